"""A rebuild takes the live inbox's trust decisions again: same envelopes refused, same applied."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kc_contracts import Envelope
from kc_contracts.integrity import Signer, TrustedKey, TrustStore, canonical, envelope_hash
from kc_runtime.bus.rebuild import ReplayTrust

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class Publisher:
    """Signs and chains as a relay does (canonical bytes)."""

    def __init__(self, signer: Signer, source: str = "/kc/tinh-40/appraisal") -> None:
        self.signer, self.source = signer, source
        self.seq, self.head = 0, None

    def body(self, n: int) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": f"tinh-40:{n}",
            "source": self.source,
            "type": "kc.appraisal.de-an.submitted.v1",
            "subject": str(n),
            "time": (T0 + timedelta(minutes=n)).isoformat(),
            "datacontenttype": "application/json",
            "dataschema": "urn:x",
            "data": {"n": n},
            "kcinstance": "tinh-40",
            "kcstreamid": str(n),
            "kcstreamversion": 1,
        }

    def next(self, n: int) -> bytes:
        signed = self.signer.sign(self.body(n), seq=self.seq + 1, prev_hash=self.head)
        self.seq, self.head = self.seq + 1, envelope_hash(signed)
        return canonical(signed)


class CountingTrust:
    """The real trust store, counting the signatures it checks."""

    def __init__(self, store: TrustStore) -> None:
        self.store, self.signatures = store, 0

    def verify(self, body: Any) -> None:
        self.signatures += 1
        self.store.verify(body)

    def admit(self, body: Any) -> None:
        self.store.admit(body)


def setup() -> tuple[Signer, TrustStore, Publisher]:
    signer = Signer.generate("tinh-40")
    trust = TrustStore()
    trust.add(TrustedKey("tinh-40", signer.key_id, signer.private_key.public_key()))
    return signer, trust, Publisher(signer)


def batch(*messages: bytes) -> list[tuple[bytes, Envelope]]:
    return [(m, Envelope.from_json(m)) for m in messages]


def test_a_clean_run_checks_one_signature_per_publisher_and_batch() -> None:
    _, store, pub = setup()
    other = Publisher(pub.signer, source="/kc/tinh-40/registry")
    trust = CountingTrust(store)
    replay = ReplayTrust(trust)
    first = [pub.next(n) for n in range(50)] + [other.next(n) for n in range(50, 60)]
    assert replay.accepted(batch(*first)) == [True] * 60
    assert trust.signatures == 2  # the last of each publisher's run
    assert replay.accepted(batch(*(pub.next(n) for n in range(60, 70)))) == [True] * 10  # continues the chain
    assert trust.signatures == 3


def test_forged_unknown_key_replayed_and_unlinked_are_refused_as_live() -> None:
    signer, store, pub = setup()
    first = pub.next(1)
    forged_body = Envelope.from_json(pub.next(2)).body()
    pub.seq, pub.head = 1, envelope_hash(json.loads(first))  # as if #2 was never published
    forged_body["data"] = {"n": 1000}  # one changed value under a valid-looking signature
    stranger = Publisher(Signer.generate("tinh-40"))  # a key nobody trusts
    unlinked = canonical(signer.sign(pub.body(4), seq=2, prev_hash="sha256:" + "0" * 64))
    last = pub.next(5)
    replay = ReplayTrust(CountingTrust(store))
    verdicts = replay.accepted(batch(first, canonical(forged_body), stranger.next(3), first, unlinked, last))
    assert verdicts == [True, False, False, False, False, True]
    assert replay.refused == 4


def test_a_revoked_key_is_refused_even_inside_a_linked_run(tmp_path: Path) -> None:
    signer, store, pub = setup()
    messages = [pub.next(n) for n in range(5)]
    store.keys["tinh-40"] = [TrustedKey("tinh-40", signer.key_id, signer.private_key.public_key(), None, True)]
    replay = ReplayTrust(CountingTrust(store))
    assert replay.accepted(batch(*messages)) == [False] * 5


def test_a_key_retired_before_an_event_does_not_sign_it() -> None:
    signer, store, pub = setup()
    messages = [pub.next(n) for n in range(5)]  # times T0 + 0..4 minutes
    store.retire("tinh-40", signer.key_id, T0 + timedelta(minutes=2, seconds=30))
    verdicts = ReplayTrust(CountingTrust(store)).accepted(batch(*messages))
    assert verdicts == [True, True, True, False, False]
