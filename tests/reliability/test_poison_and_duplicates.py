"""Scenario 3: poison and duplicate messages published straight onto the bus.

After a load, messages nobody's relay published are put on the province's stream by hand: garbage
bytes, envelopes of an unknown contract version (signed with the province's real key, so it is the
version that is refused, not the signature), a valid envelope published again under a new
``Nats-Msg-Id``, and the same ``Nats-Msg-Id`` twice. Every poison message must end up in the
consuming instance's dead-letter stream (``KCDLQ_<INSTANCE>``), once per consumer that received it,
with its original bytes and the reason in ``Kc-Dead-Letter-Reason``; duplicates must change nothing;
every view must still equal a clean rebuild from the bus.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import nats
import pytest
from kc_contracts.integrity import canonical, envelope_hash
from kc_contracts.subjects import dead_letter_stream, stream_name
from kc_runtime.keys import ensure_instance_key
from kc_runtime.settings import Settings
from kc_testing.fixtures import SigningPublisher
from reliability_harness import (
    FAST_REDELIVERY,
    PEERS,
    PROVINCE,
    TOPOLOGY,
    BusMessage,
    Load,
    System,
    assert_no_crash,
    check_everything,
    eventually,
    read_sqlite,
    read_stream,
    seed_from_env,
    stream_count,
    wait_caught_up,
)

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(600)]

REASON = "Kc-Dead-Letter-Reason"
STREAM = stream_name(PROVINCE)
DLQ, DLQ_BO = dead_letter_stream(PROVINCE), dead_letter_stream("bo")
REGISTERED = f"kc.{PROVINCE}.registry.establishment.registered.v1"
SUBMITTED = f"kc.{PROVINCE}.appraisal.de-an.submitted.v1"
APPRAISED = f"kc.{PROVINCE}.appraisal.de-an.base-appraised.v1"


async def snapshot(s: System) -> dict[str, Any]:
    """Everything the consumers have made of the bus so far."""
    async with httpx.AsyncClient(timeout=60, headers=s.headers()) as http:
        out: dict[str, Any] = {
            "establishments": (await http.get(f"{s.url(f'{PROVINCE}/planning')}/views/establishments")).json(),
            "feed": (await http.get(f"{s.url(f'{PROVINCE}/notifications')}/events", params={"limit": 1000})).json()[
                "events"
            ],
        }
        for inst in (PROVINCE, "bo"):
            out[f"digest {inst}"] = (await http.get(f"{s.url(f'{inst}/planning')}/views/digest")).json()["digest"]
    out["beneficiaries"] = read_sqlite(
        s.sqlite(f"{PROVINCE}/appraisal"), "SELECT * FROM beneficiaries ORDER BY establishment_id"
    )
    out["notifications"] = read_sqlite(
        s.sqlite(f"{PROVINCE}/notifications"), "SELECT source_key, recipient FROM notifications ORDER BY id"
    )
    return out


def unknown_version(s: System, original: BusMessage, type_suffix: str) -> bytes:
    """``original`` as a new event of an unknown version of its contract, signed by the province's key
    as a publisher of its own (its own chain), so only the version is wrong."""
    body = {k: v for k, v in original.envelope.items() if not k.startswith("kcseq") and k not in ("kcsig", "kckeyid")}
    body.pop("kcprevhash", None)
    body |= {
        "type": body["type"].rsplit(".v", 1)[0] + type_suffix,
        "id": f"{PROVINCE}:{uuid.uuid4()}:1",
        "source": f"/kc/{PROVINCE}/kiem-thu-{type_suffix.strip('.')}",
    }
    signer = ensure_instance_key(s.var_dir / "keys", PROVINCE)
    return canonical(signer.sign(body, seq=1, prev_hash=None))


def resigned(s: System, bus: list[BusMessage], original: BusMessage) -> bytes:
    """``original`` again, validly signed as the next link of its publisher's chain (what a relay that
    lost track of what it had published would send): only the inboxes' duplicate detection stands
    between it and a second effect."""
    publisher = SigningPublisher.of(Settings(instance=PROVINCE, var_dir=s.var_dir))
    source = original.envelope["source"]
    last = [m.envelope for m in bus if m.envelope.get("source") == source][-1]
    publisher.heads[source] = (int(last["kcseq"]), envelope_hash(last))
    return publisher.sign(original.envelope)


async def test_poison_goes_to_the_dead_letter_stream_and_duplicates_change_nothing(
    system: Callable[..., System],
) -> None:
    seed = seed_from_env()
    print(f"\nseed {seed}")
    s = system(TOPOLOGY, peers=PEERS, env=FAST_REDELIVERY)
    await asyncio.to_thread(s.start)
    load = Load(s, seed=seed, concurrency=8)
    ledger = await load.run(400)
    await wait_caught_up(s, ledger.public_events)
    before = await snapshot(s)
    bus = await read_stream(s.nats_url, STREAM)
    registered = next(m for m in bus if m.subject == REGISTERED)
    submitted = next(m for m in bus if m.subject == SUBMITTED)
    appraised = next(m for m in bus if m.subject == APPRAISED)

    nc = await nats.connect(s.nats_url, connect_timeout=5)
    js = nc.jetstream()
    stored: dict[str, int] = {}  # what was put on the bus -> its stream sequence

    async def put(name: str, subject: str, data: bytes, msg_id: str, *, duplicate: bool = False) -> None:
        ack = await js.publish(subject, data, stream=STREAM, headers={"Nats-Msg-Id": msg_id})
        assert bool(ack.duplicate) is duplicate, f"{name}: JetStream duplicate={ack.duplicate}"
        if not duplicate:
            stored[name] = ack.seq

    garbage = b"\xff\xfe not json at all \x00"
    await put("garbage (registry subject)", REGISTERED, garbage, "poison-garbage-1")
    await put("garbage (đề án subject)", SUBMITTED, b"{'half': ", "poison-garbage-2")
    await put(
        "unknown version (đề án)",
        SUBMITTED.replace(".v1", ".v9"),
        unknown_version(s, submitted, ".v9"),
        "poison-version-1",
    )
    await put(
        "unknown version (registry)",
        REGISTERED.replace(".v1", ".v2"),
        unknown_version(s, registered, ".v2"),
        "poison-version-2",
    )
    await put("valid envelope, new Nats-Msg-Id", REGISTERED, registered.data, "replay-registered")
    # the same Nats-Msg-Id twice: JetStream keeps the first; an event's own id again: nothing is stored
    await put("same id twice", REGISTERED, b"poison twice", "poison-twice")
    await put("same id twice (2nd)", REGISTERED, b"poison twice", "poison-twice", duplicate=True)
    await put("event again, own id", REGISTERED, registered.data, registered.msg_id, duplicate=True)
    await put("event again, own id", SUBMITTED, submitted.data, submitted.msg_id, duplicate=True)
    # valid duplicates: events already applied, signed again as their publishers' next links
    await put("re-signed duplicate (registry)", REGISTERED, resigned(s, bus, registered), "resigned-registered")
    await put("re-signed duplicate (đề án)", APPRAISED, resigned(s, bus, appraised), "resigned-appraised")
    await nc.close()

    # which consumers hear what (their subject filters), so what each dead-letter stream must hold
    registry_readers = 2  # tinh-40: appraisal's beneficiaries (establishment.>), planning's establishments (v1)
    de_an_readers, de_an_readers_bo = 2, 1  # tinh-40: planning's programme, notifications; bo: programme
    expected = {
        DLQ: registry_readers  # garbage on the registry subject
        + de_an_readers  # garbage on the đề án subject
        + de_an_readers  # unknown version of a đề án milestone
        + 1  # unknown version of the registry event: only appraisal reads every establishment.> subject
        + registry_readers  # the valid envelope under a new id: refused as a replay
        + registry_readers,  # the same id twice: stored (and dead-lettered) once
        DLQ_BO: de_an_readers_bo + de_an_readers_bo,  # garbage and unknown version on the đề án subject
    }

    async def dead_lettered() -> bool:
        return all([await stream_count(s.nats_url, name) >= n for name, n in expected.items()])

    await eventually(dead_lettered, what=f"dead letters {expected}")
    letters = {name: await read_stream(s.nats_url, name) for name in expected}
    print(f"put on the bus: {stored}")
    for name, msgs in letters.items():
        print(f"{name}: " + "; ".join(f"#{m.headers['Kc-Original-Sequence']} {m.headers[REASON][:70]}" for m in msgs))
    assert {name: len(msgs) for name, msgs in letters.items()} == expected

    # each with the original bytes, where it came from and why
    by_seq: dict[int, list[tuple[str, BusMessage]]] = {}
    for dlq, msgs in letters.items():
        for msg in msgs:
            by_seq.setdefault(int(msg.headers["Kc-Original-Sequence"]), []).append((dlq, msg))
            assert msg.headers["Kc-Original-Stream"] == STREAM and msg.headers["Kc-Consumer"]
    sent = {seq: name for name, seq in stored.items() if not name.startswith("re-signed")}
    assert set(by_seq) == set(sent), "a poison message was not dead-lettered, or something else was"
    reasons = {
        "garbage (registry subject)": "not a khuyencong CloudEvents envelope",
        "garbage (đề án subject)": "not a khuyencong CloudEvents envelope",
        "same id twice": "not a khuyencong CloudEvents envelope",
        "unknown version (đề án)": "unknown contract version",
        "unknown version (registry)": "unknown contract version",
        "valid envelope, new Nats-Msg-Id": "replayed",
    }
    originals = {
        "garbage (registry subject)": garbage,
        "valid envelope, new Nats-Msg-Id": registered.data,
        "same id twice": b"poison twice",
    }
    for seq, msgs in by_seq.items():
        name = sent[seq]
        consumers = Counter((dlq, m.headers["Kc-Consumer"]) for dlq, m in msgs)
        assert all(n == 1 for n in consumers.values()), f"{name} dead-lettered twice by one consumer: {consumers}"
        for _, m in msgs:
            assert reasons[name] in m.headers[REASON], (name, m.headers[REASON])
            if name in originals:
                assert m.data == originals[name]

    # nothing changed in any view (the re-signed duplicates included: taken, not applied again, not
    # dead-lettered), and every view still equals a clean rebuild
    await wait_caught_up(s, ledger.public_events + len(stored))
    late = {
        name: [f"#{m.headers['Kc-Original-Sequence']} {m.headers['Kc-Consumer']}: {m.headers[REASON]}" for m in msgs]
        for name in expected
        if len(msgs := await read_stream(s.nats_url, name)) != expected[name]
    }
    assert not late, f"dead-lettered since (the re-signed duplicates are at {stored}): {late}"
    after = await snapshot(s)
    assert after == before
    report = await check_everything(
        s, ledger, injected=len(stored), dead_letters={name: len(msgs) for name, msgs in letters.items()}
    )
    print(f"check: {report.line()}")
    assert_no_crash(s)
    # the services reported the refused replay (an integrity matter), not just dropped it
    log = s.log(f"{PROVINCE}/planning").read_text(errors="replace")
    assert any(
        json.loads(line).get("reason") == "replayed" for line in log.splitlines() if "untrusted event refused" in line
    )
    print(
        f"poison: {len(sent)} poison messages, {sum(expected.values())} dead letters ({expected}), each once per "
        f"consumer with its reason; {len(stored) - len(sent) + 3} duplicates (2 re-signed, 1 same id, 2 own ids "
        f"refused by JetStream) changed nothing; {report.bus_messages} events, 0 applied twice, digest equal"
    )


async def test_a_rebuild_refuses_what_the_live_consumers_refused(system: Callable[..., System]) -> None:
    """An old milestone replayed under a new id and a forged envelope: refused live, and by a rebuild
    (kc_runtime.bus.rebuild takes the inboxes' trust decisions since d444aa2), so the digests still agree."""
    seed = seed_from_env()
    print(f"\nseed {seed}")
    s = system(TOPOLOGY, peers=PEERS, env=FAST_REDELIVERY)
    await asyncio.to_thread(s.start)
    load = Load(s, seed=seed, concurrency=8)
    ledger = await load.run(200)
    await wait_caught_up(s, ledger.public_events)
    before = await snapshot(s)
    bus = await read_stream(s.nats_url, STREAM)
    appraised = {m.envelope["data"]["de_an_id"] for m in bus if m.subject.endswith("base-appraised.v1")}
    old = next(m for m in bus if m.subject == SUBMITTED and m.envelope["data"]["de_an_id"] in appraised)
    forged = dict(old.envelope)
    forged["data"] = forged["data"] | {"de_an_id": str(uuid.uuid4()), "title": "Đề án giả mạo"}

    nc = await nats.connect(s.nats_url, connect_timeout=5)
    js = nc.jetstream()
    # an old milestone again (its đề án was appraised since), and an envelope whose signature is not its own
    await js.publish(SUBMITTED, old.data, stream=STREAM, headers={"Nats-Msg-Id": "replay-submitted"})
    await js.publish(SUBMITTED, canonical(forged), stream=STREAM, headers={"Nats-Msg-Id": "forged-submitted"})
    await nc.close()

    async def refused() -> bool:
        return await stream_count(s.nats_url, DLQ) == 4 and await stream_count(s.nats_url, DLQ_BO) == 2

    await eventually(refused, what="both refused by every đề án consumer")
    await wait_caught_up(s, ledger.public_events + 2)
    letters = await read_stream(s.nats_url, DLQ)
    assert sorted(m.headers[REASON].split(":")[1].strip() for m in letters) == sorted(
        ["replayed", "replayed", "bad_signature", "bad_signature"]
    )
    assert await snapshot(s) == before  # the live views did not take them
    report = await check_everything(s, ledger, injected=2, dead_letters={DLQ: 4, DLQ_BO: 2})
    print(f"check: {report.line()}")
