"""``kc backup`` / ``kc restore`` with real parts: a province instance (registry, appraisal, planning) on one
PostgreSQL database and its own nats-server, commands over real HTTP, a backup taken while it runs;
then a fresh machine — another PostgreSQL database, a new nats-server, a new data folder — restored
from the backup, the services started on it, the views rebuilt from the bus, ``kc audit verify``
green and the digests equal. A tampered backup is refused in one line and nothing is written.

The commands run as a person runs them: the ``kc`` executable in a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import nats
import pytest
from kc_appraisal.main import create_app as appraisal_app
from kc_contracts.subjects import stream_name
from kc_ops.natsserver import NatsServer
from kc_planning.main import create_app as planning_app
from kc_registry.main import create_app as registry_app
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.settings import Settings
from kc_testing.fixtures import POSTGRES_DSN, bearer, de_an_draft, eventually, require_postgres, served

KC = str(Path(sys.executable).parent / "kc")
TAX_CODES = ("0100112437", "0101243150", "0100109106")  # valid check digits
EVERYTHING = "9999-12-31T23:59:59+00:00"
SERVICES = ("registry", "appraisal", "planning")
APPS = {"registry": registry_app, "appraisal": appraisal_app, "planning": planning_app}


def kc(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KC, *args], capture_output=True, text=True, timeout=timeout, env={"COLUMNS": "250", "PATH": "/usr/bin"}
    )


def dsn_of(database: str) -> str:
    return urlunsplit(urlsplit(POSTGRES_DSN)._replace(path=f"/{database}"))


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """Two new, empty databases (the instance's, and the fresh machine's), dropped after."""
    require_postgres()
    if not (shutil.which("pg_dump") or Path("/usr/bin/pg_dump").exists()):
        reason = "pg_dump / pg_restore not installed (Debian: postgresql-client)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the backup test)")
        pytest.skip(reason)
    import psycopg
    from psycopg import sql

    names = [f"kc_backup_{uuid.uuid4().hex[:10]}_{n}" for n in ("a", "b")]
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield dsn_of(names[0]), dsn_of(names[1])
    finally:
        with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def settings_for(service: str, dsn: str | None, var: Path, nats_url: str) -> Settings:
    return Settings(
        instance="tinh-40",
        service=service,
        nats_url=nats_url,
        var_dir=var,
        database_url=dsn,
        nak_delay_seconds=0.2,
        ack_wait_seconds=2.0,
        max_deliver=3,
    )


async def stream_messages(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(stream_name("tinh-40"))).state.messages)
    finally:
        await nc.close()


async def ensure(url: str) -> None:
    """What an operator (``make run``, ``python -m kc_ops.streams ensure``) does before the services start."""
    nc = await nats.connect(url)
    try:
        await ensure_streams(nc.jetstream(), StreamPlan(("tinh-40", "bo")))
    finally:
        await nc.close()


def instance_file(path: Path, dsn: str, var: Path, nats_url: str) -> Path:
    """The province's instance file (as ``deploy/instance/tinh-40.toml``, read by ``kc instance``) for this
    machine: its database, data folder, keys, and its bus with the password the ministry handed over."""
    credentials = var / "nats-credentials.json"
    credentials.parent.mkdir(parents=True, exist_ok=True)
    if not credentials.exists():
        credentials.write_text(json.dumps({"users": {"tinh-40": "mat-khau-cua-tinh"}}))
        credentials.chmod(0o600)
    path.write_text(
        f"""[instance]
id = "tinh-40"
data_dir = "{var}"
[database]
url = "{dsn}"
[keys]
dir = "{var / "keys"}"
trust_file = "{var / "keys" / "trust.json"}"
[nats]
role = "leaf"
hub = "nats-leaf://127.0.0.1:17240"
credentials = "{credentials}"
port = {urlsplit(nats_url).port}
monitoring_port = 18250
[ports]
registry = 18311
appraisal = 18312
planning = 18313
"""
    )
    return path


@contextlib.contextmanager
def instance(dsn: str | None, var: Path, nats_url: str) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """The province's services, each under uvicorn on a real port: their URLs and apps."""
    settings = {s: settings_for(s, dsn, var, nats_url) for s in SERVICES}
    apps = {s: APPS[s](settings[s]) for s in SERVICES}
    with contextlib.ExitStack() as stack:
        urls = {s: stack.enter_context(served(apps[s], name=s)) for s in SERVICES}
        yield urls, apps


async def drive(urls: dict[str, str], settings: Settings) -> list[str]:
    """Establishments registered and one changed; two đề án drafted, one submitted: the ids."""
    officer = bearer(settings)
    ids = []
    async with httpx.AsyncClient(timeout=30, headers=officer) as http:
        for n, tax_code in enumerate(TAX_CODES):
            created = await http.post(
                f"{urls['registry']}/establishments",
                json={
                    "name": f"Cơ sở mây tre đan số {n + 1}",
                    "tax_code": tax_code,
                    "legal_form": "ho_kinh_doanh",
                    "commune_code": "17419",
                    "sectors": ["thu_cong_my_nghe"],
                },
            )
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        changed = await http.patch(
            f"{urls['registry']}/establishments/{ids[0]}", json={"version": 1, "street": "Xóm 3"}
        )
        assert changed.status_code == 200, changed.text
        for n, code in enumerate(("KCĐP-40-2024-01", "KCĐP-40-2024-02")):
            draft = await http.post(
                f"{urls['appraisal']}/de-an",
                json=de_an_draft(code, support_vnd=(n + 1) * 45_000_000, total_vnd=(n + 1) * 45_000_000),
            )
            assert draft.status_code == 201, draft.text
            ids.append(draft.json()["id"])
        submitted = await http.post(f"{urls['appraisal']}/de-an/{ids[-1]}/submit", json={"submitted_on": "2023-09-25"})
        assert submitted.status_code == 200, submitted.text
    return ids


async def state_of(urls: dict[str, str], settings: Settings) -> dict[str, Any]:
    """What must be equal after the restore: the planning view's digest, the publishers' chain heads, the
    đề án list and the establishments."""
    auditor = bearer(settings, "kiem_toan_tinh")
    async with httpx.AsyncClient(timeout=120, headers=bearer(settings)) as http:
        heads = {}
        for service in ("registry", "appraisal"):
            head = (await http.get(f"{urls[service]}/outbox/head", headers=auditor)).json()
            heads[service] = (head["source"], head["seq"], head["hash"])
        de_an = (await http.get(f"{urls['appraisal']}/de-an", params={"limit": 50})).json()["items"]
        establishments = (await http.get(f"{urls['registry']}/establishments", params={"limit": 50})).json()
        return {
            "digest": (await http.get(f"{urls['planning']}/views/digest")).json()["digest"],
            "heads": heads,
            "de_an": sorted((d["de_an_id"], d["status"], d["support_requested_vnd"]) for d in de_an),
            "establishments": establishments,
        }


async def settled(urls: dict[str, str], settings: Settings, nats_url: str, at_least: int) -> None:
    """The relays published everything and the planning view applied it: a rebuild from the bus (into side
    tables) equals the live view."""
    seen: dict[str, Any] = {}
    async with httpx.AsyncClient(timeout=120, headers=bearer(settings)) as http:

        async def caught_up() -> bool:
            seen["messages"] = await stream_messages(nats_url)
            if seen["messages"] < at_least:
                return False
            seen["rebuilt"] = (await http.get(f"{urls['planning']}/views/as-of", params={"at": EVERYTHING})).json()
            seen["live"] = (await http.get(f"{urls['planning']}/views/digest")).json()["digest"]
            return bool(seen["rebuilt"]["events"] >= 1 and seen["rebuilt"]["digest"] == seen["live"])

        try:
            await eventually(caught_up, timeout=90, interval=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {seen}") from None


def verify(nats_url: str, trust: Path) -> subprocess.CompletedProcess[str]:
    return kc("audit", "verify", "-i", "tinh-40", "--nats-url", nats_url, "--trust", str(trust))


@pytest.mark.postgres
@pytest.mark.timeout(900)  # seven `kc` runs and two instance starts on a loaded machine
async def test_backup_on_one_postgres_restored_into_another_on_a_fresh_bus(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    first, second = databases
    var1, var2 = tmp_path / "var1", tmp_path / "var2"
    bus1 = NatsServer(tmp_path / "nats1").start()
    try:
        await ensure(bus1.url)
        with instance(first, var1, bus1.url) as (urls, apps):
            await eventually(lambda: all(a.state.runtime.bus_started for a in apps.values()), timeout=60)
            officer = settings_for("appraisal", first, var1, bus1.url)
            ids = await drive(urls, officer)
            # 3 registered + 1 changed + 1 submitted (a draft is not published)
            await settled(urls, officer, bus1.url, at_least=5)
            before = await state_of(urls, officer)
            messages = await stream_messages(bus1.url)
            assert set(ids[-2:]) <= {d[0] for d in before["de_an"]}
            assert len(before["digest"]) == 64

            # the backup, taken while the instance runs (as a province's nightly job would)
            backup = tmp_path / "backups" / "tinh-40.tar.gz"
            began = time.perf_counter()
            config = instance_file(tmp_path / "tinh-40-machine-1.toml", first, var1, bus1.url)
            made = kc("backup", "--config", str(config), "--out", str(backup))
            backup_seconds = time.perf_counter() - began
            assert made.returncode == 0, made.stdout + made.stderr
            assert "backed up and verified" in made.stdout
            assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # it holds the private key
    finally:
        bus1.stop()  # the machine is gone: its bus, its database connections, its data folder unused

    with tarfile.open(backup) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        key_member = tar.getmember("keys/tinh-40.key")
    assert key_member.mode & 0o777 == 0o600
    assert manifest["stream"]["messages"] == messages and manifest["stream"]["failures"] == 0
    assert {
        "database/postgresql.dump",
        "keys/tinh-40.key",
        "keys/trust.json",
        "keys/nats-credentials.json",
        "stream/events.jsonl",
    } <= set(manifest["parts"])
    pg = manifest["database"]["postgresql"]
    assert set(pg["tables"]) == {"kc_tinh_40_registry", "kc_tinh_40_appraisal", "kc_tinh_40_planning"}

    # a fresh machine: another database, another bus, another data folder
    bus2 = NatsServer(tmp_path / "nats2").start()
    try:
        began = time.perf_counter()
        # the instance file of the new machine (the NATS password comes back from the backup)
        config = instance_file(tmp_path / "tinh-40-machine-2.toml", second, var2, bus2.url)
        (var2 / "nats-credentials.json").unlink()
        restored = kc("restore", str(backup), "--config", str(config))
        restore_seconds = time.perf_counter() - began
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert f"{messages} phát lại / republished" in restored.stdout
        assert stat.S_IMODE((var2 / "keys" / "tinh-40.key").stat().st_mode) == 0o600
        assert stat.S_IMODE((var2 / "nats-credentials.json").stat().st_mode) == 0o600
        assert json.loads((var2 / "nats-credentials.json").read_text()) == {"users": {"tinh-40": "mat-khau-cua-tinh"}}
        assert await stream_messages(bus2.url) == messages

        # restoring again onto the same database is refused: it is not empty (nothing overwritten)
        again = kc("restore", str(backup), "--database-url", second, "--var-dir", str(tmp_path / "var3"))
        assert again.returncode == 2 and "not empty" in again.stderr and len(again.stderr.strip().splitlines()) == 1

        await ensure(bus2.url)  # the ministry's stream, as the operator makes it on any new bus
        with instance(second, var2, bus2.url) as (urls, apps):
            await eventually(lambda: all(a.state.runtime.bus_started for a in apps.values()), timeout=60)
            officer = settings_for("appraisal", second, var2, bus2.url)
            # the views rebuilt from the bus, swapped in: the digest is the one before the backup
            async with httpx.AsyncClient(timeout=120, headers=bearer(officer)) as http:
                rebuilt = (await http.post(f"{urls['planning']}/views/rebuild")).json()
            assert rebuilt["digest"] == rebuilt["live_digest"] == before["digest"], rebuilt
            after = await state_of(urls, officer)
            assert after == before

            checked = verify(bus2.url, var2 / "keys" / "trust.json")
            assert checked.returncode == 0, checked.stdout + checked.stderr
            assert f"all {messages} verified" in checked.stdout

            # the restored instance goes on: a new command's event continues the same chain, still verified
            async with httpx.AsyncClient(timeout=30, headers=bearer(officer)) as http:
                changed = await http.patch(
                    f"{urls['registry']}/establishments/{ids[1]}", json={"version": 1, "street": "Xóm 5"}
                )
                assert changed.status_code == 200, changed.text

            async def published() -> bool:
                return await stream_messages(bus2.url) > messages

            await eventually(published, timeout=60, interval=0.3)
            checked = verify(bus2.url, var2 / "keys" / "trust.json")
            assert checked.returncode == 0, checked.stdout + checked.stderr
            assert f"all {messages + 1} verified" in checked.stdout
    finally:
        bus2.stop()
    print(
        f"\nbackup {backup.stat().st_size:,} B in {backup_seconds:.1f} s; restore {restore_seconds:.1f} s; "
        f"{messages} messages; digest {before['digest']} equal"
    )


# -- a tampered backup ---------------------------------------------------------------------------------


@pytest.fixture
def sqlite_backup(tmp_path: Path, nats_server: NatsServer) -> Path:
    """A backup of a registry on SQLite (the demo's store) with a few events on its stream."""
    asyncio.run(ensure(nats_server.url))
    var = tmp_path / "var"
    settings = settings_for("registry", None, var, nats_server.url)
    app = registry_app(settings)
    with served(app, name="registry") as url:

        async def run() -> None:
            await eventually(lambda: app.state.runtime.bus_started, timeout=60)
            async with httpx.AsyncClient(timeout=30, headers=bearer(settings)) as http:
                for n, tax_code in enumerate(TAX_CODES[:2]):
                    body = {
                        "name": f"Cơ sở số {n + 1}",
                        "tax_code": tax_code,
                        "legal_form": "ho_kinh_doanh",
                        "commune_code": "17419",
                        "sectors": ["thu_cong_my_nghe"],
                    }
                    created = await http.post(f"{url}/establishments", json=body)
                    assert created.status_code == 201, created.text

            async def published() -> bool:
                return await stream_messages(nats_server.url) >= 2

            await eventually(published, timeout=60, interval=0.2)

        asyncio.run(run())
        backup = tmp_path / "backup"
        made = kc("backup", "-i", "tinh-40", "-o", str(backup), "--var-dir", str(var), "--nats-url", nats_server.url)
    assert made.returncode == 0, made.stdout + made.stderr
    return backup


def refused(backup: Path, target: Path) -> subprocess.CompletedProcess[str]:
    result = kc("restore", str(backup), "--var-dir", str(target))
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line, no traceback
    assert not target.exists()  # nothing written
    return result


def copy_of(backup: Path, tmp_path: Path) -> Path:
    copy = tmp_path / f"copy-{uuid.uuid4().hex[:6]}"
    shutil.copytree(backup, copy)
    return copy


@pytest.mark.timeout(600)
def test_a_tampered_backup_is_refused_in_one_line(sqlite_backup: Path, tmp_path: Path) -> None:
    manifest = json.loads((sqlite_backup / "manifest.json").read_text())
    assert manifest["database"]["sqlite"] == ["registry.sqlite"] and "postgresql" not in manifest["database"]
    assert kc("restore", str(sqlite_backup), "--check").returncode == 0

    # a row changed in the database copy
    changed = copy_of(sqlite_backup, tmp_path)
    db = sqlite3.connect(changed / "database" / "registry.sqlite")
    db.execute("PRAGMA user_version = 7")
    db.close()
    out = refused(changed, tmp_path / "t1")
    assert "database/registry.sqlite" in out.stderr and "tampered" in out.stderr

    # a byte of the stream's events (the manifest's sha256 is checked before the events themselves)
    events = copy_of(sqlite_backup, tmp_path)
    data = bytearray((events / "stream" / "events.jsonl").read_bytes())
    data[len(data) // 2] ^= 1
    (events / "stream" / "events.jsonl").write_bytes(bytes(data))
    assert "stream/events.jsonl" in refused(events, tmp_path / "t2").stderr

    # the manifest rewritten to match a changed part: its signature no longer holds
    forged = copy_of(sqlite_backup, tmp_path)
    key = forged / "keys" / "tinh-40.key"
    key.write_bytes(key.read_bytes().replace(b'"', b"'", 1))
    doc = json.loads((forged / "manifest.json").read_text())
    from kc_cli.backup import sha256_file

    doc["parts"]["keys/tinh-40.key"]["sha256"] = sha256_file(key)
    (forged / "manifest.json").write_text(json.dumps(doc))
    assert "signature" in refused(forged, tmp_path / "t3").stderr

    # a file added, a file removed
    added = copy_of(sqlite_backup, tmp_path)
    (added / "files" / "extra.pdf").parent.mkdir(exist_ok=True)
    (added / "files" / "extra.pdf").write_bytes(b"%PDF-1.4")
    assert "files/extra.pdf" in refused(added, tmp_path / "t4").stderr
    removed = copy_of(sqlite_backup, tmp_path)
    (removed / "keys" / "trust.json").unlink()
    assert "keys/trust.json" in refused(removed, tmp_path / "t5").stderr

    # the same, untouched, restores (the stream not republished without --nats-url)
    target = tmp_path / "restored"
    restored = kc("restore", str(sqlite_backup), "--var-dir", str(target))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert stat.S_IMODE((target / "keys" / "tinh-40.key").stat().st_mode) == 0o600
    db = sqlite3.connect(target / "tinh-40" / "registry.sqlite")
    assert db.execute("SELECT count(*) FROM stored_events").fetchone()[0] >= 2
    db.close()


def test_an_instance_with_an_empty_stream_backs_up_and_restores(tmp_path: Path, nats_server: NatsServer) -> None:
    """Nothing published yet (a province just installed): the stream's bundle trusts no key of its own, the
    backup's trust file still checks its signed manifest."""
    from kc_runtime.keys import ensure_instance_key

    asyncio.run(ensure(nats_server.url))
    var = tmp_path / "var"
    ensure_instance_key(var / "keys", "tinh-40")
    (var / "tinh-40").mkdir(parents=True)
    db = sqlite3.connect(var / "tinh-40" / "registry.sqlite")
    db.execute("CREATE TABLE stored_events (x)")
    db.commit()
    db.close()
    backup = tmp_path / "empty.tar.gz"
    made = kc("backup", "-i", "tinh-40", "-o", str(backup), "--var-dir", str(var), "--nats-url", nats_server.url)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "0 thông điệp / messages" in made.stdout
    restored = kc("restore", str(backup), "--var-dir", str(tmp_path / "new"), "--nats-url", nats_server.url)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert (tmp_path / "new" / "tinh-40" / "registry.sqlite").is_file()


async def copy_last_message(url: str) -> int:
    """A byte-identical copy of the stream's last message, as a relay's republish the duplicate window no
    longer caught leaves it (audits count such copies, they do not fail): the stream's size after."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        last = await js.get_last_msg(stream_name("tinh-40"), "kc.tinh-40.>")
        await js.publish(last.subject, last.data or b"", stream=stream_name("tinh-40"))
        return int((await js.stream_info(stream_name("tinh-40"))).state.messages)
    finally:
        await nc.close()


@pytest.mark.timeout(600)
def test_a_stream_with_a_republished_copy_is_restored_whole(
    sqlite_backup: Path, tmp_path: Path, nats_server: NatsServer
) -> None:
    total = asyncio.run(copy_last_message(nats_server.url))
    backup = tmp_path / "with-copy"
    made = kc(
        "backup", "-i", "tinh-40", "-o", str(backup), "--var-dir", str(tmp_path / "var"), "--nats-url", nats_server.url
    )
    assert made.returncode == 0, made.stdout + made.stderr
    fresh = NatsServer(tmp_path / "fresh-nats").start()
    try:
        restored = kc("restore", str(backup), "--var-dir", str(tmp_path / "new"), "--nats-url", fresh.url)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert asyncio.run(stream_messages(fresh.url)) == total  # the copy kept, not dropped as a duplicate
        checked = verify(fresh.url, tmp_path / "new" / "keys" / "trust.json")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert f"all {total} verified" in checked.stdout
    finally:
        fresh.stop()
