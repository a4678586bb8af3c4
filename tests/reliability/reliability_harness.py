"""Shared machinery of the reliability suite: the system as real processes, a load, the checks.

- :class:`System` is ``make run``'s supervisor (``kc_ops.supervisor``) on a chosen topology:
  nats-server from the wheel with ``make run``'s accounts configuration (one account per instance,
  generated passwords; a temporary store, a free loopback port), the streams, the instance
  keys, each service as its own ``python -m kc_<service>.main`` process with the environment of
  ``deploy/local/system.toml``. Beyond the supervisor it can SIGKILL and restart one service, stop
  and restart NATS, run services under a shifted clock (``reliability_clock.py``), or put the bus
  on the committed 3-node cluster (``kc_ops.natsconfig.cluster``: R3 streams, each service in
  its instance's account with all three URLs). Requests carry bearer tokens signed with the
  instance's key (:meth:`System.headers`).
- :class:`Load` drives real HTTP concurrently (httpx): establishment registrations and đề án
  drafted, submitted and appraised. Every logical command is carried through to a known outcome
  whatever happens to the process answering it (see :class:`Ledger`), so the test knows exactly
  what the event stores hold and therefore what the bus and the views must show.
- :func:`check_everything` is the end of every scenario: the bus holds each expected event exactly
  once (unique event ids, each under the hash of its bytes as ``Nats-Msg-Id``) and in order, no
  consumer lags or holds an unacked message, no dead letter appeared, every view has the expected
  rows (so nothing was applied twice), and each planning programme view's digest equals a clean
  rebuild from the bus log (``python -m kc_planning.rebuild``, run as the operator would, with the
  service's settings).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from kc_contracts.integrity import message_id
from kc_contracts.subjects import dead_letter_stream, stream_name
from kc_ops import natsconfig
from kc_ops.natsconfig import ADMIN_USER, NatsDeployment
from kc_ops.natsserver import die_with_parent
from kc_ops.supervisor import ServiceProcess, Supervisor
from kc_registry.domain.establishment import establishment_id, identity_key
from kc_runtime.keys import ensure_instance_key
from kc_runtime.web.auth import issue_token
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SYSTEM_TOML = ROOT / "deploy" / "local" / "system.toml"
READY_TIMEOUT_S = 120.0  # two cores shared with other people's tests: starting is slow at times
CATCH_UP_TIMEOUT_S = 300.0

# Communes of Nghệ An (province 40) in today's catalogue: where the load registers establishments.
COMMUNES_40 = ("17419", "17017", "16738", "16681", "16702", "16939")


def seed_from_env(default: int | None = None) -> int:
    """``KC_RELIABILITY_SEED`` or a fresh one; the test prints it so a failure can be replayed."""
    raw = os.environ.get("KC_RELIABILITY_SEED")
    if raw:
        return int(raw)
    return default if default is not None else random.SystemRandom().randrange(1, 10**9)


# -- the system as processes ------------------------------------------------------------------------


def service_templates() -> list[dict[str, Any]]:
    """The service modules and their environment exactly as ``make run`` has them."""
    return list(tomllib.loads(SYSTEM_TOML.read_text())["service"])


@dataclass
class Spawned:
    """How the supervisor started a service (argv, environment, working directory): reused to restart it."""

    argv: list[str]
    env: dict[str, str]
    cwd: str


class System:
    """The supervisor of ``make run`` (``kc_ops.supervisor.Supervisor``) on a topology of our choosing,
    plus what it does not do: SIGKILL one service and start it again exactly as it was started, stop
    and restart NATS, run a service under another launcher (the shifted clock).

    ``instances``: instance -> its services; ``peers``: instance -> the instances it reads;
    ``env``: added to every service's environment; ``service_env``: per ``<instance>/<service>``.
    """

    def __init__(
        self,
        root: Path,
        instances: dict[str, list[str]],
        *,
        peers: dict[str, list[str]] | None = None,
        env: dict[str, str] | None = None,
        service_env: dict[str, dict[str, str]] | None = None,
        clocked: list[str] | None = None,
        cluster: bool = False,
    ) -> None:
        self.root = root
        self.clock = root / "clock"
        config = {
            "nats": {"store": "nats"},
            "instance": [
                {"id": i, "services": names, "peers": (peers or {}).get(i, []), "port_offset": 0}
                for i, names in instances.items()
            ],
            "service": service_templates(),
        }
        self.supervisor = Supervisor(config, root / "var", auto_ports=True)
        self.var_dir = self.supervisor.var_dir
        self.logs = self.var_dir / "logs"
        self.services: dict[str, ServiceProcess] = {f"{s.instance}/{s.name}": s for s in self.supervisor.services}
        self.cluster: NatsDeployment | None = None
        if cluster:  # deploy/nats/cluster: three nodes, R3 streams, each service in its instance's account
            self.cluster = natsconfig.cluster(self.var_dir / "nats-cluster")
            self.supervisor.nats = ClusterNats(self.cluster)  # type: ignore[assignment]
            self.supervisor.replicas = 3
        for key, s in self.services.items():
            s.env |= (env or {}) | (service_env or {}).get(key, {})
        for key in clocked or []:  # run under the shifted clock (reliability_clock.py), set by set_clock()
            s = self.services[key]
            s.env |= {"PYTHONPATH": str(HERE), "KC_TEST_CLOCK_FILE": str(self.clock), "KC_TEST_CLOCK_MODULE": s.module}
            s.module = "reliability_clock"
        self.peers = {i["id"]: list(i.get("peers", [])) for i in self.supervisor.instances}
        self.spawned: dict[str, Spawned] = {}
        self.starts: Counter[str] = Counter()

    # -- the clock of the services in ``clocked`` ---------------------------------------------------
    def set_clock(self, offset: timedelta) -> None:
        """Make the clocked services' clocks jump to real time + ``offset`` (at once, while they run)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.clock.with_name("clock.tmp")
        tmp.write_text(str(offset.total_seconds()))
        tmp.replace(self.clock)

    def clock_reads(self, key: str) -> tuple[int, str]:
        """How often the clocked service ``key``'s own clock was read (the notifications scheduler: once
        a tick), and the time it said last."""
        beat = self.clock.with_name(f"clock.{key.replace('/', '-')}.beat")
        if not beat.exists():
            return 0, ""
        count, moment = beat.read_text().split(" ", 1)
        return int(count), moment

    # -- NATS ---------------------------------------------------------------------------------------
    @property
    def nats(self) -> Any:
        return self.supervisor.nats

    @property
    def nats_url(self) -> str:
        """The bus as its operator (``kc-admin``, the account holding the streams): what the checks read with."""
        return str(self.nats.url(ADMIN_USER))

    @property
    def stream_instances(self) -> tuple[str, ...]:
        return tuple(self.supervisor.stream_instances)

    def stop_nats(self) -> None:
        self.nats.stop()

    def start_nats(self) -> None:
        self.nats.start()

    # -- services -----------------------------------------------------------------------------------
    def start(self) -> None:
        """What ``make run`` does: NATS, streams, keys, every service; then wait until all are ready."""
        self.supervisor.start()
        for key, s in self.services.items():
            assert s.process is not None
            self.spawned[key] = _how_started(s.process.pid)
            self.starts[key] += 1
        self.wait_ready()

    def kill(self, key: str) -> None:
        """SIGKILL: no shutdown code runs, whatever the process was doing is cut off."""
        s = self.services[key]
        assert s.process is not None
        with contextlib.suppress(ProcessLookupError):
            s.process.send_signal(signal.SIGKILL)
        s.process.wait(30)
        self._note(key, "SIGKILL")

    def spawn(self, key: str, launcher: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        """Start ``key`` again as the supervisor started it (optionally under another launcher)."""
        s, how = self.services[key], self.spawned[key]
        assert s.process is None or s.process.poll() is not None, f"{key} is running"
        argv = how.argv if launcher is None else [*launcher, *how.argv[1:]]
        self._note(key, f"start #{self.starts[key] + 1}")
        with self.log(key).open("ab") as log:
            s.process = subprocess.Popen(
                argv,
                cwd=how.cwd,
                env=how.env | (env or {}),
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        self.starts[key] += 1

    def _note(self, key: str, what: str) -> None:
        with self.log(key).open("ab") as log:
            log.write(f"\n==== {what} {time.strftime('%H:%M:%S')} ====\n".encode())

    def wait_ready(self, keys: list[str] | None = None, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        pending = list(keys or self.services)
        while pending:
            for key in list(pending):
                s = self.services[key]
                if s.process is None or s.process.poll() is not None:
                    raise AssertionError(f"{key} exited ({s.process and s.process.returncode}):\n{self.tail(key)}")
                if ready(s.url):
                    pending.remove(key)
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready within {timeout}s: {pending}\n" + "\n".join(map(self.tail, pending)))
            time.sleep(0.1)

    async def time_to_ready(self, key: str, timeout: float = READY_TIMEOUT_S) -> float:
        """Seconds from now until ``key`` answers ``/readyz`` (after a restart)."""
        began = time.monotonic()
        url = self.url(key)
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() - began < timeout:
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    if (await http.get(f"{url}/readyz")).json().get("ready"):
                        return time.monotonic() - began
                await asyncio.sleep(0.1)
        raise AssertionError(f"{key} not ready {timeout}s after its restart:\n{self.tail(key)}")

    def running(self, key: str) -> bool:
        process = self.services[key].process
        return process is not None and process.poll() is None

    def url(self, key: str) -> str:
        return str(self.services[key].url)

    def log(self, key: str) -> Path:
        s = self.services[key]
        return self.logs / f"{s.instance}-{s.name}.log"

    def tail(self, key: str, lines: int = 40) -> str:
        path = self.log(key)
        if not path.exists():
            return f"[{key}: no log]"
        text = path.read_text(errors="replace").splitlines()[-lines:]
        return f"---- {path.name} ----\n" + "\n".join(text)

    def sqlite(self, key: str) -> Path:
        s = self.services[key]
        return self.var_dir / s.instance / f"{s.name}.sqlite"

    def planning_env(self, instance: str) -> dict[str, str]:
        """The environment planning of ``instance`` runs with (for ``python -m kc_planning.rebuild``)."""
        return self.spawned[f"{instance}/planning"].env

    def headers(self, instance: str = "tinh-40", role: str = "so_ct") -> dict[str, str]:
        """What every request carries: the actor, and a bearer token (EdDSA) of ``role`` in ``instance``,
        signed with that instance's key from the system's key folder (created by the supervisor)."""
        signer = ensure_instance_key(self.var_dir / "keys", instance)
        token = issue_token(signer, sub="kiem-thu.do-tin-cay", role=role, scope=instance, name="Kiểm thử độ tin cậy")
        return {"X-Actor": "kiem-thu-do-tin-cay", "Authorization": f"Bearer {token}"}

    def stop(self) -> None:
        self.supervisor.stop()


class ClusterNats:
    """The cluster's :class:`NatsDeployment` where the supervisor expects its bus, started with this suite's
    patience (two cores shared: a cluster's election is slow at times); ``url(user)`` lists every node with
    ``user``'s credentials, as ``KC_NATS_URL`` takes them."""

    def __init__(self, deployment: NatsDeployment) -> None:
        self.deployment = deployment

    def url(self, user: str | None = None) -> str:
        return self.deployment.url(user)

    @property
    def running(self) -> bool:
        return any(server.running for server in self.deployment.nodes.values())

    def start(self) -> ClusterNats:
        self.deployment.start(timeout_s=READY_TIMEOUT_S)
        return self

    def stop(self) -> None:
        self.deployment.stop()


def _how_started(pid: int) -> Spawned:
    proc = Path(f"/proc/{pid}")
    argv = [a.decode() for a in (proc / "cmdline").read_bytes().split(b"\0") if a]
    env = dict(
        item.decode(errors="surrogateescape").split("=", 1)
        for item in (proc / "environ").read_bytes().split(b"\0")
        if b"=" in item
    )
    return Spawned(argv, env, str((proc / "cwd").readlink()))


def ready(url: str) -> bool:
    try:
        return bool(httpx.get(f"{url}/readyz", timeout=2).json().get("ready"))
    except (httpx.HTTPError, ValueError):
        return False


# Most scenarios: a province and the ministry's planning, which reads the province's stream.
PROVINCE = "tinh-40"
PROVINCE_SERVICES = ["registry", "appraisal", "planning", "notifications"]
TOPOLOGY = {PROVINCE: PROVINCE_SERVICES, "bo": ["planning"]}
PEERS = {"bo": [PROVINCE]}
# Consumers redeliver an unacknowledged message after this (a consumer killed mid-message blocks its
# durable until then: max_ack_pending=1); shorter than the production 30 s to keep the suite short.
FAST_REDELIVERY = {"KC_ACK_WAIT_SECONDS": "10", "KC_NAK_DELAY_SECONDS": "0.5"}


# -- the load ---------------------------------------------------------------------------------------

CALENDAR_YEARS = range(2030, 2100)  # one calendar per year, each changed by one task only
CALENDAR_CHANGES = 10  # changes per calendar task
PARK_AFTER_S = 1.0
MAX_PARKED = 64


@dataclass
class DeAnRecord:
    code: str
    id: str | None = None
    status: str | None = None  # the last status the API answered
    steps: list[str] = field(default_factory=list)  # commands carried out, in order


@dataclass
class Ledger:
    """What the system must hold: every logical command carried through to exactly one effect.

    A command whose answer never came (the process died, the connection broke, 5xx) is *ambiguous*:
    it may or may not have been stored. It is resolved by asking the service, never by guessing:
    a registration is idempotent by identity (a repeat answers 409 once the first was stored); a
    draft is looked up by its unique code before it is sent again; a lifecycle step sends the
    version it expects, so a repeat of a stored step answers 409 and the đề án shows the step done;
    a calendar change is idempotent by content (setting the same deadlines again changes nothing).
    """

    establishments: dict[str, tuple[str, str]] = field(default_factory=dict)  # registration no -> (id, commune)
    de_an: dict[str, DeAnRecord] = field(default_factory=dict)
    calendars: dict[int, list[str]] = field(default_factory=dict)  # year -> registration deadlines set, in order
    commands: int = 0  # logical commands carried out (each exactly once)
    attempts: int = 0  # HTTP requests sent
    ambiguous: int = 0  # answers lost or 5xx, then resolved
    accepted_while: Counter[str] = field(default_factory=Counter)  # e.g. "nats-down/register"
    started: float = field(default_factory=time.monotonic)
    finished: float = 0.0

    @property
    def public_events(self) -> int:
        """Contract events these commands publish (a draft is private; everything else is public)."""
        return (
            len(self.establishments)
            + sum(sum(1 for s in r.steps if s != "draft") for r in self.de_an.values())
            + sum(len(changes) for changes in self.calendars.values())
        )

    def rate(self) -> float:
        return self.commands / max(1e-9, (self.finished or time.monotonic()) - self.started)

    def summary(self) -> str:
        return (
            f"{self.commands} commands ({len(self.establishments)} registrations, "
            f"{sum(len(r.steps) for r in self.de_an.values())} đề án commands, "
            f"{sum(len(c) for c in self.calendars.values())} calendar changes) in "
            f"{(self.finished or time.monotonic()) - self.started:.1f}s = {self.rate():.0f}/s; "
            f"{self.attempts} requests, {self.ambiguous} answers lost and resolved"
        )


class CommandFailedError(AssertionError):
    pass


class Load:
    """Concurrent commands over real HTTP, drawn from a seeded stream of tasks.

    Tasks: register an establishment (1 command), take a đề án through draft, submission and base
    appraisal (3), change a plan calendar ``CALENDAR_CHANGES`` times (one year per task). ``run(n)``
    starts tasks until ``n`` commands are under way, and keeps starting more while ``keep_going()``
    (e.g. until an outage is over). ``condition()`` labels what was true when a command was accepted.
    """

    # tasks drawn with these weights: about 40 % registrations, 50 % đề án commands, 10 % calendar changes
    WEIGHTS: tuple[tuple[str, float], ...] = (("register", 0.40), ("de_an", 0.17), ("calendar", 0.01))

    def __init__(
        self,
        system: System,
        *,
        seed: int,
        instance: str = PROVINCE,
        concurrency: int = 16,
        retry_for_s: float = 240.0,
        rate: float | None = None,
        weights: tuple[tuple[str, float], ...] | None = None,
    ) -> None:
        self.system = system
        self.weights = weights or self.WEIGHTS
        self.rate = rate  # commands per second at most (None: as fast as the system answers)
        self._next_slot = 0.0
        self.instance = instance
        self.rng = random.Random(seed)
        self.seed = seed
        self.concurrency = concurrency
        self.retry_for_s = retry_for_s
        self.ledger = Ledger()
        self.condition: Callable[[], str | None] = lambda: None
        self.keep_going: Callable[[], bool] = lambda: False
        self._http: httpx.AsyncClient | None = None
        self._prefix = f"R{seed}"
        self._counters: Counter[str] = Counter()
        self._planned = 0
        self._years = iter(CALENDAR_YEARS)
        self._progress = asyncio.Event()
        self._headers = system.headers(instance)

    def url(self, service: str) -> str:
        return self.system.url(f"{self.instance}/{service}")

    def _next_task(self) -> tuple[str, int]:
        kinds, weights = zip(*self.weights, strict=True)
        kind = self.rng.choices(kinds, weights)[0]
        if kind == "calendar":
            year = next(self._years, None)
            if year is None:
                kind = "register"
            else:
                self._planned += CALENDAR_CHANGES
                return kind, year
        self._planned += 3 if kind == "de_an" else 1
        self._counters[kind] += 1
        return kind, self._counters[kind] - 1

    async def run(self, commands: int) -> Ledger:
        limits = httpx.Limits(max_connections=self.concurrency * 2, max_keepalive_connections=self.concurrency)
        self.ledger.started = time.monotonic()
        async with httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=limits) as http:
            self._http = http

            parked: set[asyncio.Task[None]] = set()

            async def worker() -> None:
                while self._planned < commands or self.keep_going():
                    before = self._planned
                    kind, i = self._next_task()
                    await self._throttle(self._planned - before)
                    task = asyncio.create_task(getattr(self, kind)(i))
                    # a task waiting for a service that is down is left to retry on its own while the
                    # worker moves on: the other services keep getting commands meanwhile
                    done, _ = await asyncio.wait({task}, timeout=PARK_AFTER_S)
                    if done:
                        task.result()
                        continue
                    parked.add(task)
                    for finished in [t for t in parked if t.done()]:
                        parked.discard(finished)
                        finished.result()
                    while len(parked) >= MAX_PARKED:
                        finished_now, _ = await asyncio.wait(parked, return_when=asyncio.FIRST_COMPLETED)
                        for t in finished_now:
                            parked.discard(t)
                            t.result()

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))
            await asyncio.gather(*parked)
        self.ledger.finished = time.monotonic()
        return self.ledger

    async def _throttle(self, commands: int) -> None:
        if self.rate is None:
            return
        now = time.monotonic()
        self._next_slot = max(now, self._next_slot) + commands / self.rate
        await asyncio.sleep(self._next_slot - now - commands / self.rate)

    async def reached(self, commands: int) -> None:
        """Return once ``commands`` commands have been carried out."""
        while self.ledger.commands < commands:
            self._progress.clear()
            await self._progress.wait()

    async def _done(self, kind: str) -> None:
        self.ledger.commands += 1
        self._progress.set()
        label = self.condition()
        if label:
            self.ledger.accepted_while[f"{label}/{kind}"] += 1

    async def _send(
        self, method: str, url: str, body: dict[str, Any] | None = None, params: dict[str, Any] | None = None
    ) -> httpx.Response | None:
        """One attempt; None when the answer is lost (connection refused/reset, timeout) or a 5xx."""
        assert self._http is not None
        self.ledger.attempts += 1
        try:
            response = await self._http.request(method, url, json=body, params=params, headers=self._headers)
        except httpx.TransportError:
            self.ledger.ambiguous += 1
            return None
        if response.status_code >= 500:
            self.ledger.ambiguous += 1
            return None
        return response

    async def _pause(self, deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise CommandFailedError(f"no answer for {what} within {self.retry_for_s}s")
        await asyncio.sleep(0.2 + self.rng.random() * 0.3)

    # -- establishments -----------------------------------------------------------------------------
    async def register(self, i: int) -> None:
        number = f"{self._prefix}-{i:05d}"
        commune = COMMUNES_40[i % len(COMMUNES_40)]
        body = {
            "name": f"Cơ sở kiểm thử độ tin cậy số {i}",
            "registration_number": number,
            "legal_form": "ho_kinh_doanh",
            "commune_code": commune,
            "sectors": ["co_khi_che_tao"],
        }
        expected_id = str(establishment_id(identity_key(None, number, self.instance.removeprefix("tinh-"))))
        deadline = time.monotonic() + self.retry_for_s
        lost = False
        while True:
            r = await self._send("POST", f"{self.url('registry')}/establishments", body)
            if r is None:
                lost = True
                await self._pause(deadline, f"registration {number}")
                continue
            if r.status_code == 201:
                assert r.json()["id"] == expected_id
                break
            if r.status_code == 409 and lost:
                break  # the lost attempt was stored: idempotent by identity
            raise CommandFailedError(f"registration {number}: {r.status_code} {r.text}")
        self.ledger.establishments[number] = (expected_id, commune)
        await self._done("register")

    # -- đề án --------------------------------------------------------------------------------------
    async def de_an(self, i: int) -> None:
        code = f"KCĐP-40-2024-{self._prefix}-{i:05d}"
        record = self.ledger.de_an[code] = DeAnRecord(code)
        support = 50_000_000 + (i % 7) * 10_000_000
        await self._draft(record, support, COMMUNES_40[i % len(COMMUNES_40)])
        await self._step(record, "submit", {"submitted_on": "2023-10-20", "version": 1})
        await self._step(
            record,
            "base-appraisal",
            {
                "mode": "can_bo",
                "conclusion": "dong_y",
                "recommended_support_vnd": support,
                "appraised_on": "2023-10-25",
                "version": 2,
            },
        )

    async def _draft(self, record: DeAnRecord, support: int, commune: str) -> None:
        body = {
            "code": record.code,
            "title": f"Hỗ trợ máy móc thiết bị cho cơ sở kiểm thử {record.code}",
            "level": "dia_phuong",
            "de_an_type": "kcdp",
            "plan_year": 2024,
            "implementing_unit": "Trung tâm Khuyến công Nghệ An",
            "activity_contents": ["3"],
            "commune_code": commune,
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
        deadline = time.monotonic() + self.retry_for_s
        while True:
            r = await self._send("POST", f"{self.url('appraisal')}/de-an", body)
            if r is not None and r.status_code == 201:
                record.id, record.status = r.json()["id"], r.json()["status"]
                break
            if r is not None:
                raise CommandFailedError(f"draft {record.code}: {r.status_code} {r.text}")
            # lost: was it stored? ask before sending it again (a draft is not idempotent)
            while True:
                await self._pause(deadline, f"draft {record.code}")
                found = await self._find(record.code)
                if found is not False:
                    break
            if isinstance(found, dict):
                record.id, record.status = found["de_an_id"], found["status"]
                break
        record.steps.append("draft")
        await self._done("de_an")

    async def _find(self, code: str) -> dict[str, Any] | bool | None:
        """The đề án with this code, None if there is none, False if the service did not answer."""
        r = await self._send("GET", f"{self.url('appraisal')}/de-an", None, params={"q": code, "limit": 500})
        if r is None or r.status_code != 200:
            return False
        matches = [d for d in r.json()["items"] if d["code"] == code]
        assert len(matches) <= 1, f"{code} drafted {len(matches)} times"
        return matches[0] if matches else None

    async def _step(self, record: DeAnRecord, action: str, body: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.retry_for_s
        lost = False
        url = f"{self.url('appraisal')}/de-an/{record.id}"
        while True:
            r = await self._send("POST", f"{url}/{action}", body)
            if r is None:
                lost = True
                await self._pause(deadline, f"{action} {record.code}")
                continue
            if r.status_code == 200:
                record.status = r.json()["status"]
                break
            if r.status_code == 409 and lost:
                # stale version: the lost attempt was stored if the đề án is now one version further
                current = await self._send("GET", url)
                if (
                    current is not None
                    and current.status_code == 200
                    and current.json()["version"] == body["version"] + 1
                ):
                    record.status = current.json()["status"]
                    break
            raise CommandFailedError(f"{action} {record.code}: {r.status_code} {r.text}")
        record.steps.append(action)
        await self._done("de_an")

    # -- plan calendars -----------------------------------------------------------------------------
    async def calendar(self, year: int) -> None:
        """Set the local plan calendar of ``year``, then change its registration deadline, in order."""
        changes = self.ledger.calendars.setdefault(year, [])
        url = f"{self.url('planning')}/calendars/dia_phuong/{year}"
        for k in range(CALENDAR_CHANGES):
            registration = f"{year - 1}-03-{k + 1:02d}"
            body = {
                "registration_deadline": registration,
                "dossier_deadline": f"{year - 1}-09-30",
                "legal_basis": f"Kế hoạch kiểm thử {self._prefix}",
                "reason": f"điều chỉnh lần {k}",
            }
            deadline = time.monotonic() + self.retry_for_s
            while True:
                r = await self._send("PUT", url, body)
                if r is None:
                    await self._pause(deadline, f"calendar {year} change {k}")
                    continue  # idempotent: the same deadlines again change nothing
                if r.status_code == 200 and r.json()["milestones"]["registration_deadline"] == registration:
                    break
                raise CommandFailedError(f"calendar {year} change {k}: {r.status_code} {r.text}")
            changes.append(registration)
            await self._done("calendar")


# -- reading the bus --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BusMessage:
    seq: int
    subject: str
    msg_id: str
    data: bytes
    headers: dict[str, str]

    @property
    def envelope(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.data)
        return parsed

    @property
    def event_id(self) -> str:
        """The envelope's id (``<instance>:<aggregate id>:<version>``: the feed's and the webhooks' id)."""
        return str(self.envelope["id"])


async def read_stream(url: str, stream: str, subjects: list[str] | None = None) -> list[BusMessage]:
    """Every message of ``stream`` (optionally filtered), in stream order, without acknowledging."""
    nc = await nats.connect(url.split(","), connect_timeout=5)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        if info.state.messages == 0:
            return []
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.NONE,
            filter_subjects=subjects,
            inactive_threshold=60.0,
        )
        psub = await js.pull_subscribe("", stream=stream, config=config)
        out: list[BusMessage] = []
        try:
            while True:
                try:
                    msgs = await psub.fetch(1000, timeout=5)
                except TimeoutError:  # nats-py raises its own or asyncio's (the builtin) depending on timing
                    msgs = []
                if not msgs:
                    assert len(out) >= info.state.messages, f"{stream}: read {len(out)} of {info.state.messages}"
                    break
                for m in msgs:
                    headers = dict(m.headers or {})
                    out.append(
                        BusMessage(
                            m.metadata.sequence.stream, m.subject, headers.get("Nats-Msg-Id", ""), m.data, headers
                        )
                    )
                if msgs[-1].metadata.num_pending == 0:
                    break
        finally:
            await psub.unsubscribe()
        return out
    finally:
        await nc.close()


async def consumer_states(url: str, streams: list[str]) -> dict[str, tuple[int, int, int]]:
    """Durable consumers (``<instance>--<name>``) of these streams: (pending, ack pending, redelivered)."""
    nc = await nats.connect(url.split(","), connect_timeout=5)
    try:
        js = nc.jetstream()
        out = {}
        for stream in streams:
            for c in await js.consumers_info(stream):
                name = c.name or ""
                if "--" in name:
                    out[f"{stream}/{name}"] = (c.num_pending or 0, c.num_ack_pending or 0, c.num_redelivered or 0)
        return out
    finally:
        await nc.close()


async def stream_count(url: str, stream: str) -> int:
    nc = await nats.connect(url.split(","), connect_timeout=5)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


async def eventually(
    check: Callable[[], Awaitable[object] | object], timeout: float = CATCH_UP_TIMEOUT_S, what: str = "condition"
) -> None:
    """Wait for ``check()`` (sync or async) to be truthy, tolerating errors while the system recovers."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                result = await result
            if result:
                return
            last = result
        except Exception as exc:  # a service restarting, NATS coming back
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")
        await asyncio.sleep(0.25)


# -- the checks -------------------------------------------------------------------------------------


def read_sqlite(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read a service's SQLite store (read-only) the way an operator's tool would."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        return db.execute(sql, params).fetchall()


def notification_order(path: Path, instance: str) -> dict[str, int]:
    """Event id -> notification id, for every stored event of a service (its outbox order)."""
    rows = read_sqlite(path, "SELECT rowid, originator_id, originator_version FROM stored_events")
    return {f"{instance}:{_uuid(o)}:{v}": n for n, o, v in rows}


def _uuid(value: Any) -> str:
    import uuid

    return str(uuid.UUID(value)) if isinstance(value, str) else str(uuid.UUID(bytes=value))


def rebuild_digest(system: System, instance: str) -> dict[str, str]:
    """``python -m kc_planning.rebuild`` for an instance: digest before, rebuilt and live."""
    done = subprocess.run(
        [sys.executable, "-m", "kc_planning.rebuild"],
        cwd=ROOT,
        env=system.planning_env(instance),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    found = {}
    for line in done.stdout.splitlines():
        for label in ("before", "rebuilt", "live"):
            prefix = f"digest {label}"
            if line.startswith(prefix):
                found[label] = line[len(prefix) :].strip()
        if line.startswith("events "):
            found["events"] = line.split()[1]
    assert done.returncode == 0 and set(found) >= {"before", "rebuilt", "live"}, (done.stdout, done.stderr)
    return found


@dataclass
class Report:
    bus_messages: int = 0
    unique_ids: int = 0
    views: dict[str, Any] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    catch_up_s: float = 0.0
    checks_s: float = 0.0

    def line(self) -> str:
        return (
            f"bus {self.bus_messages} events, {self.unique_ids} unique ids; caught up {self.catch_up_s:.1f}s after the "
            f"load; views {self.views}; rebuild digests == live: "
            + ", ".join(f"{k} {v[:12]}" for k, v in self.digests.items())
            + f"; checks {self.checks_s:.1f}s"
        )


async def wait_caught_up(system: System, expected: int, instance: str = PROVINCE) -> float:
    """Until the relays have published everything and every durable consumer has acked everything."""
    began = time.monotonic()
    url = system.nats_url
    stream = stream_name(instance)

    async def published() -> bool:
        count = await stream_count(url, stream)
        assert count <= expected, f"{stream} holds {count} events, more than the {expected} the commands made"
        return count == expected

    await eventually(published, what=f"{stream} holding {expected} events")

    async def idle() -> bool:
        states = await consumer_states(url, [stream_name(i) for i in system.stream_instances])
        return bool(states) and all(p == 0 and a == 0 for p, a, _ in states.values())

    await eventually(idle, what="every durable consumer caught up")
    return time.monotonic() - began


def _kind(envelope: dict[str, Any]) -> str:
    """``registry.establishment.registered`` from ``kc.registry.establishment.registered.v1``."""
    return ".".join(str(envelope["type"]).split(".")[1:4])


async def check_everything(
    system: System,
    ledger: Ledger,
    *,
    instance: str = PROVINCE,
    ministry: bool = True,
    injected: int = 0,
    dead_letters: dict[str, int] | None = None,
) -> Report:
    """Every view equals a clean rebuild and no event is missing or applied twice.

    ``injected``: messages a test published straight onto the instance's stream (left out of the
    accounting); ``dead_letters``: how many each dead-letter stream must hold (default: none).
    """
    report = Report()
    report.catch_up_s = await wait_caught_up(system, ledger.public_events + injected, instance)
    began = time.monotonic()
    url = system.nats_url
    stream = stream_name(instance)

    # 1. the bus: each event the commands made, exactly once (unique event ids), in outbox order; a relay
    # publishes under the hash of its bytes (unclaimable), what a test injected under other ids
    everything = await read_stream(url, stream)
    messages = [m for m in everything if m.msg_id == message_id(m.data)]
    assert len(everything) - len(messages) == injected, "messages on the bus that no command made"
    ids = [m.event_id for m in messages]
    report.bus_messages, report.unique_ids = len(messages), len(set(ids))
    duplicated = [i for i, n in Counter(ids).items() if n > 1]
    assert not duplicated, f"{len(duplicated)} events published twice, e.g. {duplicated[:3]}"
    assert all(i.startswith(f"{instance}:") for i in ids), "events of another instance on the stream"
    by_kind = Counter(_kind(m.envelope) for m in messages)
    expected_by_kind = +Counter(
        {
            "registry.establishment.registered": len(ledger.establishments),
            "appraisal.de-an.submitted": sum("submit" in r.steps for r in ledger.de_an.values()),
            "appraisal.de-an.base-appraised": sum("base-appraisal" in r.steps for r in ledger.de_an.values()),
            "planning.calendar.changed": sum(len(c) for c in ledger.calendars.values()),
        }
    )
    assert by_kind == expected_by_kind, f"bus {dict(by_kind)} != commands {dict(expected_by_kind)}"
    registered = {m.envelope["data"]["establishment_id"] for m in messages if _kind(m.envelope).startswith("registry")}
    assert registered == {eid for eid, _ in ledger.establishments.values()}
    milestones: dict[str, list[str]] = defaultdict(list)
    calendars: dict[int, list[str]] = defaultdict(list)
    for m in messages:
        kind, data = _kind(m.envelope), m.envelope["data"]
        if kind.startswith("appraisal.de-an"):
            milestones[data["de_an_id"]].append(kind.rsplit(".", 1)[1])
        elif kind == "planning.calendar.changed":
            calendars[data["year"]].append(data["registration_deadline"])
    step_event = {"submit": "submitted", "base-appraisal": "base-appraised"}
    wanted = {r.id: [step_event[s] for s in r.steps[1:]] for r in ledger.de_an.values() if len(r.steps) > 1}
    assert dict(milestones) == wanted, "đề án milestones on the bus differ from the commands, or their order"
    assert dict(calendars) == {y: c for y, c in ledger.calendars.items() if c}, "calendar changes out of order"
    for service in ("registry", "appraisal", "planning"):
        key = f"{instance}/{service}"
        if key in system.services:
            order = notification_order(system.sqlite(key), instance)
            published = [order[m.event_id] for m in messages if m.event_id in order]
            assert published == sorted(published), f"{key}: the bus order is not the outbox order"

    # 2. nothing dead-lettered (unless the test put poison on the bus), no consumer behind
    for inst in system.stream_instances:
        name = dead_letter_stream(inst)
        held = await stream_count(url, name)
        assert held == (dead_letters or {}).get(name, 0), f"{held} dead letters in {name}"
    states = await consumer_states(url, [stream_name(i) for i in system.stream_instances])
    assert all(p == 0 and a == 0 for p, a, _ in states.values()), states

    # 3. the views: the rows the commands imply, which a replay of the bus gives as well
    async with httpx.AsyncClient(timeout=60, headers=system.headers(instance)) as http:
        planning = system.url(f"{instance}/planning")
        by_commune = Counter(commune for _, commune in ledger.establishments.values())
        from_bus = Counter(
            m.envelope["data"]["commune_code"] for m in messages if _kind(m.envelope).startswith("registry")
        )
        rows = (await http.get(f"{planning}/views/establishments")).json()
        live = {r["commune_code"]: r["establishments"] for r in rows}
        assert live == dict(by_commune) == dict(from_bus), (live, by_commune, from_bus)
        report.views["planning.establishments"] = sum(live.values())

        status_of = {r.id: r.status for r in ledger.de_an.values() if "submit" in r.steps}
        for key in [f"{instance}/planning", *(["bo/planning"] if ministry else [])]:
            view = (await http.get(f"{system.url(key)}/views/province")).json()
            statuses = {r["status"]: r["de_an"] for r in view["by_status"]}
            assert statuses == dict(Counter(status_of.values())), (key, statuses)
            report.views[f"{key}.programme"] = sum(statuses.values())

        feed: list[str] = []
        after = 0
        while True:
            page = (
                await http.get(
                    f"{system.url(f'{instance}/notifications')}/events", params={"after": after, "limit": 1000}
                )
            ).json()
            if not page["events"]:
                break
            feed += [e["event"]["id"] for e in page["events"]]
            after = page["next"]
        public = [m.event_id for m in messages if not _kind(m.envelope).startswith("registry")]
        assert sorted(feed) == sorted(public), "the notifications feed differs from the bus"
        report.views["notifications.feed"] = len(feed)

    last_calendar = {(y, c[-1]) for y, c in ledger.calendars.items() if c}
    appraisal_db, notifications_db = system.sqlite(f"{instance}/appraisal"), system.sqlite(f"{instance}/notifications")
    beneficiaries = read_sqlite(appraisal_db, "SELECT establishment_id FROM beneficiaries")
    assert {r[0] for r in beneficiaries} == registered
    report.views["appraisal.beneficiaries"] = len(beneficiaries)
    published = read_sqlite(appraisal_db, "SELECT year, registration_deadline FROM published_calendars")
    assert {(y, d) for y, d in published if y in ledger.calendars} == last_calendar, "appraisal: calendars"
    known = read_sqlite(notifications_db, "SELECT year, registration_deadline FROM calendars")
    assert {(y, d) for y, d in known if y in ledger.calendars} == last_calendar, "notifications: calendars"
    report.views["calendars"] = len(last_calendar)
    # one status e-mail per base appraisal (to the implementing unit), however often it was delivered
    queued = Counter(r[0] for r in read_sqlite(notifications_db, "SELECT source_key FROM notifications"))
    appraised = {m.event_id for m in messages if _kind(m.envelope) == "appraisal.de-an.base-appraised"}
    assert {k: n for k, n in queued.items() if k in appraised} == dict.fromkeys(appraised, 1)

    # 4. digests: each live programme view equals a clean rebuild from the bus log
    for inst in [instance, *(["bo"] if ministry else [])]:
        async with httpx.AsyncClient(timeout=60, headers=system.headers(instance)) as http:
            live_digest = (await http.get(f"{system.url(f'{inst}/planning')}/views/digest")).json()["digest"]
        digests = await asyncio.to_thread(rebuild_digest, system, inst)
        assert digests["before"] == live_digest == digests["rebuilt"] == digests["live"], (inst, digests, live_digest)
        report.digests[inst] = live_digest
    report.checks_s = time.monotonic() - began
    return report


def assert_no_crash(system: System, kills: Counter[str] | None = None) -> None:
    """Every service still runs, started once plus once per kill, and no background task died."""
    for key in system.services:
        assert system.running(key), f"{key} is not running:\n{system.tail(key)}"
        starts = system.starts[key]
        assert starts == 1 + (kills or Counter())[key], f"{key} started {starts} times"
        log = system.log(key).read_text(errors="replace").splitlines()
        died = [line for line in log if "background task failed" in line]
        assert not died, f"{key}: {died[:3]}"
