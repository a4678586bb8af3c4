"""Issue 19's must-show: the ministry's hub and one province, each installed from its deploy file
(deploy/instance/bo.toml, tinh-40.toml) on PostgreSQL and brought up with `kc instance up`, the province
through a NATS leaf node joined to the hub with its own account. The national flow runs across them over
HTTP; then the link between the leaf and the hub is cut for 30 s while both sides work, and restored:
everything that was done on either side arrives once — nothing lost, nothing doubled (stream counts, each
publisher's chain without gap or repeat, each approval once, view digests equal to a rebuild from the bus).
Run by `make test-reliability` (it takes 1–2 minutes).

The link runs through a TCP relay of the test's own between the leaf and the hub's leaf port (what a WAN
link is): cutting it closes the connections and refuses new ones, as a dead line would, while both
nats-servers and every service keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import psycopg
import pytest
from kc_ops import instance as inst
from kc_ops.natsconfig import ADMIN_USER, Credentials
from kc_ops.natsserver import free_port
from kc_runtime.keys import key_file, load_signer
from kc_runtime.web.auth import issue_token
from kc_testing.fixtures import POSTGRES_DSN, require_postgres
from psycopg import sql

# 118 s on a loaded machine (two instances' start, the flow, the 30 s cut): in `make test-reliability`
pytestmark = [pytest.mark.postgres, pytest.mark.reliability, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
OUTAGE_S = 30.0


# -- the deploy files, made this test's (its directories, databases and free ports) -----------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def to_toml(doc: dict[str, Any], prefix: str = "") -> str:
    """Enough TOML for an instance file: tables of scalars and lists, nested tables."""
    scalars = [f"{k} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    out = ([f"[{prefix}]"] if prefix and scalars else []) + scalars
    for k, v in doc.items():
        if isinstance(v, dict):
            out.append(to_toml(v, f"{prefix}.{k}" if prefix else k))
    return "\n".join(out) + "\n"


def instance_file(name: str, d: Path, database: str, **nats: Any) -> Path:
    """``deploy/instance/<name>.toml`` with this test's paths, database and ports; the rest as committed."""
    doc = tomllib.loads((ROOT / "deploy" / "instance" / f"{name}.toml").read_text("utf-8"))
    base = d / name
    doc["instance"]["data_dir"] = str(base)
    doc["database"]["url"] = database
    doc["keys"] = {"dir": str(base / "keys"), "trust_file": str(base / "keys" / "trust.json")}
    doc["nats"] |= {"port": free_port(), "monitoring_port": free_port(), **nats}
    doc["nats"]["credentials"] = str(base / "nats-credentials.json")
    if "store" in doc["nats"]:
        doc["nats"]["store"] = str(base / "nats" / "jetstream")
    # the services the national flow needs (a province runs its registry besides)
    doc["ports"] = {s: free_port() for s in doc["ports"] if s in ("registry", "appraisal", "planning")}
    doc.pop("service", None)
    doc["restart"] = {"max_crashes": 5, "window_s": 60}
    path = d / f"{name}.toml"
    path.write_text(to_toml(doc), "utf-8")
    return path


@contextlib.contextmanager
def databases(*names: str) -> Iterator[dict[str, str]]:
    """Fresh PostgreSQL databases (unique names), dropped afterwards."""
    suffix = uuid.uuid4().hex[:10]
    made = {n: f"kc_it_{suffix}_{n.replace('-', '_')}" for n in names}
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        for db in made.values():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    try:
        yield {n: f"{POSTGRES_DSN.rsplit('/', 1)[0]}/{db}" for n, db in made.items()}
    finally:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            for db in made.values():
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


# -- the link: a TCP relay the test can cut ---------------------------------------------------------------


class Link:
    """Loopback TCP relay from ``port`` to ``target``; :meth:`cut` drops every connection and refuses new ones
    until :meth:`restore`."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.up = True
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.cuts = 0
        self.accepted: list[tuple[float, bool]] = []  # (when, let through)
        threading.Thread(target=self._accept, daemon=True, name="link-accept").start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append((time.monotonic(), self.up))
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                if not self.up:  # cut meanwhile
                    client.close()
                    upstream.close()
                    continue
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.cuts += 1
        with self.lock:
            self.up = False
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
            self.sockets.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


# -- the running instances --------------------------------------------------------------------------------


class Up:
    """``kc instance up FILE`` as a process; its URLs once every service answers."""

    def __init__(self, cfg: inst.InstanceConfig) -> None:
        self.cfg = cfg
        self.log = cfg.data_dir.parent / f"{cfg.id}-up.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "kc"), "instance", "up", str(cfg.path)],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=os.environ | {"PYTHONUNBUFFERED": "1"},
            )

    def wait_ready(self, timeout: float = 180) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        run = self.cfg.data_dir / "run.json"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                logs = "".join(
                    f"\n--- {f.name}\n{f.read_text(errors='replace')[-1500:]}" for f in self.cfg.logs.glob("*.log")
                )
                raise AssertionError(f"kc instance up {self.cfg.id} exited:\n{self.log.read_text()[-4000:]}{logs}")
            if "ready in" in self.log.read_text(errors="replace") and run.exists():
                return dict(json.loads(run.read_text()))
            time.sleep(0.3)
        raise AssertionError(f"{self.cfg.id} not up within {timeout}s:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def token(cfg: inst.InstanceConfig, role: str) -> dict[str, str]:
    signer = load_signer(key_file(cfg.keys_dir, cfg.id), cfg.id)
    t = issue_token(signer, sub=f"{role}.it", role=role, scope=cfg.id, name=f"Cán bộ {role}")
    return {"Authorization": f"Bearer {t}"}


async def eventually(check: Any, what: str, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout}s (last {last!r})")


def national_body(code: str, support: int) -> dict[str, Any]:
    return {
        "code": code,
        "title": f"Hỗ trợ máy móc chế biến chè {code}",
        "level": "quoc_gia",
        "de_an_type": "kcqg_nhom",
        "plan_year": 2024,
        "implementing_unit": "Trung tâm Khuyến công tỉnh Nghệ An",
        "activity_contents": ["3"],
        "budget_lines": [
            {
                "cost_item": "Máy móc",
                "support_item": "may_moc_thiet_bi",
                "total_cost_vnd": 3 * support,
                "support_requested_vnd": support,
                "counterpart_vnd": 2 * support,
            }
        ],
    }


APPRAISAL = {"mode": "can_bo", "conclusion": "dong_y"}


async def sent_up(so: httpx.AsyncClient, appraisal: str, code: str, support: int) -> str:
    """The Sở drafts, submits, appraises and forwards a national đề án to the ministry (all on the province)."""
    drafted = await so.post(f"{appraisal}/de-an", json=national_body(code, support))
    assert drafted.status_code == 201, drafted.text
    de_an = str(drafted.json()["id"])
    for action, body in (
        ("submit", {"submitted_on": "2023-09-25"}),
        ("base-appraisal", APPRAISAL | {"recommended_support_vnd": support, "appraised_on": "2023-10-05"}),
        ("forward", {"on": "2023-10-06"}),
    ):
        answer = await so.post(f"{appraisal}/de-an/{de_an}/{action}", json=body)
        assert answer.status_code == 200, answer.text
    return de_an


async def status(http: httpx.AsyncClient, url: str) -> str | None:
    answer = await http.get(url)
    return str(answer.json()["status"]) if answer.status_code == 200 else None


async def stream(url: str, name: str) -> list[dict[str, Any]]:
    """Every message of ``name`` on the hub (as the operator), decoded, with its Nats-Msg-Id."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = (await js.stream_info(name)).state.last_seq
        out = []
        for seq in range(1, last + 1):
            msg = await js.get_msg(name, seq)
            out.append(json.loads(msg.data) | {"_msgid": (msg.headers or {}).get("Nats-Msg-Id")})
        return out
    finally:
        await nc.close()


def leaf_links(cfg: inst.InstanceConfig) -> int:
    with contextlib.suppress(httpx.HTTPError, ValueError):
        return int(httpx.get(f"http://127.0.0.1:{cfg.monitoring_port}/leafz", timeout=2).json()["leafnodes"])
    return -1


def chains_whole(messages: list[dict[str, Any]]) -> dict[str, int]:
    """Per publisher (``source``): its chain numbers are 1..n, each once (no gap: nothing lost; no repeat:
    nothing doubled). Returns n per source."""
    by_source: dict[str, list[int]] = {}
    for m in messages:
        by_source.setdefault(str(m["source"]), []).append(int(m["kcseq"]))
    for source, seqs in by_source.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), (source, sorted(seqs))
    ids = [m["_msgid"] for m in messages]
    assert len(ids) == len(set(ids)), "a message id stored twice"
    return {s: len(v) for s, v in by_source.items()}


async def test_hub_and_province_from_their_files_survive_a_30_second_link_cut(tmp_path: Path) -> None:
    require_postgres()
    started = time.monotonic()
    with databases("bo", "tinh-40") as db:
        bo = inst.load(instance_file("bo", tmp_path, db["bo"], leaf_port=free_port()))
        link = Link(bo.leaf_port)
        na = inst.load(instance_file("tinh-40", tmp_path, db["tinh-40"], hub=f"nats-leaf://127.0.0.1:{link.port}"))
        # the installation as the README tells it: keys, the ministry's handout, public keys both ways
        inst.init(bo)
        inst.init(na)
        (bo.data_dir / "handout" / "tinh-40" / "nats-credentials.json").replace(na.credentials)
        inst.trust(na, bo.trust_file)
        inst.trust(bo, na.trust_file)
        assert [f.text for f in inst.check(bo) if not f.ok] == []
        hub, province = Up(bo), Up(na)
        try:
            bo_run, na_run = hub.wait_ready(), province.wait_ready()
            print(f"both instances up: {time.monotonic() - started:.1f} s")
            assert [f.text for f in await asyncio.to_thread(inst.check, na) if not f.ok] == []  # via the running leaf
            await eventually(lambda: leaf_links(bo) == 1, "the leaf joined the hub")
            await flow_and_outage(bo, na, bo_run["services"], na_run["services"], link)
        finally:
            province.stop()
            hub.stop()
            link.close()
        assert "đã dừng / stopped." in province.log.read_text() and "đã dừng / stopped." in hub.log.read_text()
    print(f"hub and province, national flow, {OUTAGE_S:.0f} s link cut: {time.monotonic() - started:.1f} s")


async def flow_and_outage(
    bo: inst.InstanceConfig, na: inst.InstanceConfig, bo_urls: dict[str, str], na_urls: dict[str, str], link: Link
) -> None:
    appraisal, planning = na_urls["tinh-40/appraisal"], na_urls["tinh-40/planning"]
    records, plan = f"{bo_urls['bo/appraisal']}/national-de-an/tinh-40", f"{bo_urls['bo/planning']}/plans/quoc_gia/2024"
    async with (
        httpx.AsyncClient(timeout=30, headers=token(na, "so_ct")) as so,
        httpx.AsyncClient(timeout=30, headers=token(bo, "cuc")) as cuc,
        httpx.AsyncClient(timeout=30, headers=token(bo, "lanh_dao_bo")) as minister,
    ):

        async def to_the_plan(code: str, support: int) -> str:
            """Sent up by the province, appraised by the Cục on the ministry's record, proposed by the province."""
            de_an = await sent_up(so, appraisal, code, support)
            await eventually(lambda: _is(cuc, f"{records}/{de_an}", "da_gui_bo"), f"{code} reached the ministry")
            answer = await cuc.post(
                f"{records}/{de_an}/ministry-appraisal",
                json=APPRAISAL | {"recommended_support_vnd": support, "appraised_on": "2023-11-20"},
            )
            assert answer.status_code == 200, answer.text
            await eventually(lambda: _is(so, f"{appraisal}/de-an/{de_an}", "dat_cap_bo"), f"{code} appraised back")
            answer = await so.post(f"{appraisal}/de-an/{de_an}/propose", json={"on": "2023-11-25"})
            assert answer.status_code == 200, answer.text
            return de_an

        # the national flow across the two instances
        a = await to_the_plan("KCQG-2024-40-01", 250_000_000)
        b = await to_the_plan("KCQG-2024-40-02", 150_000_000)
        await eventually(lambda: _lines(cuc, plan, 2), "both lines in the ministry's plan")
        first = await minister.post(
            f"{plan}/approvals",
            json={
                "decision_number": "2468/QĐ-BCT",
                "decision_date": "2023-12-28",
                "signer": "Bộ trưởng Bộ Công Thương",
                "amounts": {a: 250_000_000},
            },
        )
        assert first.status_code == 200, first.text
        await eventually(lambda: _is(so, f"{appraisal}/de-an/{a}", "da_phe_duyet"), "the province's đề án approved")

        # the link is cut for 30 s; both sides work meanwhile
        link.cut()
        cut_at = time.monotonic()
        await eventually(lambda: leaf_links(bo) == 0, "the hub lost the leaf", timeout=30)
        second = await minister.post(  # the ministry approves the second đề án: it waits on the hub for the province
            f"{plan}/approvals",
            json={
                "decision_number": "0315/QĐ-BCT",
                "decision_date": "2024-03-15",
                "signer": "Bộ trưởng Bộ Công Thương",
            },
        )
        assert second.status_code == 200 and second.json()["batches"][-1]["batch"] == 2, second.text
        c = await sent_up(so, appraisal, "KCQG-2024-40-03", 120_000_000)  # the province sends a third up
        established = await so.post(
            f"{na_urls['tinh-40/registry']}/establishments",
            json={
                "name": "Cơ sở chè Thanh Chương",
                "tax_code": "0100112437",
                "legal_form": "ho_kinh_doanh",
                "commune_code": "17419",
                "sectors": ["co_khi_che_tao"],
            },
        )
        assert established.status_code == 201, established.text
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))
        # nothing crossed while the link was down
        assert await status(so, f"{appraisal}/de-an/{b}") == "de_xuat"
        assert leaf_links(bo) == 0
        record = await cuc.get(f"{records}/{c}")
        assert record.status_code == 404, (record.text, link.accepted)
        link.restore()

        # everything done meanwhile arrives, on both sides
        await eventually(lambda: _is(so, f"{appraisal}/de-an/{b}", "da_phe_duyet"), "batch 2 reached the province")
        await eventually(lambda: _is(cuc, f"{records}/{c}", "da_gui_bo"), "the third đề án reached the ministry")
        answer = await cuc.post(
            f"{records}/{c}/ministry-appraisal",
            json=APPRAISAL | {"recommended_support_vnd": 120_000_000, "appraised_on": "2023-11-21"},
        )
        assert answer.status_code == 200, answer.text
        await eventually(lambda: _is(so, f"{appraisal}/de-an/{c}", "dat_cap_bo"), "and back after the link")

        # nothing lost, nothing doubled: the hub's streams hold every event once, each chain whole
        admin = Credentials(bo.credentials).url(f"nats://127.0.0.1:{bo.nats_port}", ADMIN_USER)

        async def registered() -> bool:  # the registry's relay retries on its own backoff after the link
            types = [m["type"] for m in await stream(admin, "KC_TINH_40")]
            return "kc.registry.establishment.registered.v1" in types

        await eventually(registered, "the establishment registered during the cut reached the hub")
        await asyncio.sleep(2.0)  # anything that would come twice has had time to
        province_events = await stream(admin, "KC_TINH_40")
        ministry_events = await stream(admin, "KC_BO")
        chains_whole(province_events)
        chains_whole(ministry_events)
        types = [m["type"] for m in province_events]
        assert types.count("kc.appraisal.de-an.approved.v1") == 2  # a and b, each once
        assert types.count("kc.appraisal.de-an.forwarded.v1") == 3
        assert types.count("kc.registry.establishment.registered.v1") == 1
        assert [m["type"] for m in ministry_events].count("kc.planning.plan.approved.v1") == 2
        plan_now = (await cuc.get(plan)).json()
        assert plan_now["approved_total_vnd"] == 400_000_000 and len(plan_now["batches"]) == 2

        # every view equals its rebuild from the bus, on both sides
        for base, http in ((bo_urls["bo/planning"], cuc), (planning, so)):
            live = (await http.get(f"{base}/views/digest")).json()["digest"]
            rebuilt = (await http.post(f"{base}/views/rebuild")).json()
            assert rebuilt["digest"] == rebuilt["live_digest"] == live, (base, rebuilt, live)
        view = (await cuc.get(f"{bo_urls['bo/planning']}/views/national", params={"year": 2024})).json()
        assert {r["province_now"]: r["de_an"] for r in view["by_province_now"]} == {"40": 3}


async def _is(http: httpx.AsyncClient, url: str, wanted: str) -> bool:
    return await status(http, url) == wanted


async def _lines(http: httpx.AsyncClient, plan: str, n: int) -> bool:
    answer = await http.get(plan)
    return answer.status_code == 200 and len(answer.json()["lines"]) == n
