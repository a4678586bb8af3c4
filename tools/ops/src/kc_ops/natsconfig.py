"""The nats-server configurations of ``deploy/nats``: the generated accounts file, and servers started from them.

``deploy/nats/accounts.conf`` is generated here (``python -m kc_ops.natsconfig accounts > …``), a test
fails when it drifts. One account per instance (``BO``, ``TINH_40`` …), plus ``AUDIT`` and ``INTEGRATOR``;
the streams live in one JetStream account, ``KC``, which exports to each account exactly what it may use:

- publishing: ``kc.<instance>.>`` and ``kcdlq.<instance>.>`` to that instance's account only (the
  JetStream ack is the service reply);
- reading a stream ``S``: stream info, message get, consumer create / info / next on ``S`` and its acks
  ``$JS.ACK.S.>``, to the accounts that may read ``S``;
- ``$JS.API.INFO`` to every account: importing it stops the server from answering "JetStream not enabled
  for account" beside the real answer in accounts that have no JetStream of their own.

Every JetStream API import is made twice: as ``$JS.API.…`` for clients connected to the ministry's servers,
and as ``$JS.kc.API.…`` (JetStream domain ``kc``) for clients of a province's leaf node, which maps their
``$JS.API.…`` to the domain form (``default_js_domain``) because the plain API never crosses a leaf
connection. Each account's users may publish only those subjects (``default_permissions``), so the server
answers a stray publish with a permissions violation instead of dropping it silently.

The hand-written configurations read their ports and store directories from the environment (nats-server
resolves ``$NAME`` from the environment), so the committed files are the ones the tests start:
:func:`single`, :func:`cluster` and :func:`hub_and_leaf` choose free loopback ports and temporary stores,
start the processes and give URLs with the development credentials (:func:`dev_password`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kc_contracts.subjects import check_instance, dead_letter_stream, stream_name

from kc_ops.natsserver import die_with_parent, free_port, nats_server_binary

DOMAIN = "kc"
BUS_ACCOUNT = "KC"
SYSTEM_ACCOUNT = "SYS"
ADMIN_USER = "kc-admin"
SYSTEM_USER = "sys"
AUDITOR = "auditor"
INTEGRATOR = "integrator"
DEFAULT_INSTANCES = ("bo", "tinh-40", "tinh-31")
CLUSTER_NODES = ("n1", "n2", "n3")

# (subject template, response type): what reading one stream takes, and nothing that changes it
_READ_API = (
    ("$JS.API.STREAM.INFO.{stream}", "singleton"),
    ("$JS.API.STREAM.MSG.GET.{stream}", "singleton"),
    ("$JS.API.CONSUMER.CREATE.{stream}.>", "singleton"),  # <stream>.<name>[.<filter subject>]
    ("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.*", "singleton"),
    ("$JS.API.CONSUMER.INFO.{stream}.*", "singleton"),
    ("$JS.API.CONSUMER.MSG.NEXT.{stream}.*", "stream"),  # a pull request may be answered by several messages
)
_ACKS = "$JS.ACK.{stream}.>"
_ACCOUNT_INFO = "$JS.API.INFO"


def dev_password(user: str) -> str:
    """The development password of ``user`` in ``deploy/nats`` (never for production: see its README)."""
    return f"dev-{user}"


def account_of(instance: str) -> str:
    """``TINH_40`` for ``tinh-40``, ``BO`` for ``bo``."""
    return check_instance(instance).replace("-", "_").upper()


# -- the accounts file ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """One account: its user, the instances it publishes as, the streams it reads."""

    account: str
    user: str
    publishes: tuple[str, ...]
    reads: tuple[str, ...]
    role: str

    def publish_subjects(self) -> list[str]:
        return [s for i in self.publishes for s in (f"kc.{i}.>", f"kcdlq.{i}.>")]

    def api_subjects(self) -> list[str]:
        return [_ACCOUNT_INFO] + [t.format(stream=s) for s in self.reads for t, _ in _READ_API]

    def ack_subjects(self) -> list[str]:
        return [_ACKS.format(stream=s) for s in self.reads]


def grants(instances: Sequence[str] = DEFAULT_INSTANCES) -> list[Grant]:
    """Who reads what: the ministry every province; a province the ministry and itself; the auditor all."""
    instances = [check_instance(i) for i in dict.fromkeys(instances)]
    if "bo" not in instances:
        raise ValueError("the ministry (bo) must be one of the instances: every province reads its stream")
    provinces = [i for i in instances if i != "bo"]
    out = []
    for instance in instances:
        read = [stream_name("bo")] + [stream_name(p) for p in (provinces if instance == "bo" else [instance])]
        role = "the ministry" if instance == "bo" else f"province {instance[5:]}"
        out.append(
            Grant(
                account_of(instance),
                instance,
                (instance,),
                (*dict.fromkeys(read), dead_letter_stream(instance)),
                f"{role}: publishes kc.{instance}.>, reads {', '.join(dict.fromkeys(read))}",
            )
        )
    everything = tuple(n for i in instances for n in (stream_name(i), dead_letter_stream(i)))
    out.append(Grant("AUDIT", AUDITOR, (), everything, "auditors: read every stream and dead letter, publish nothing"))
    out.append(Grant("INTEGRATOR", INTEGRATOR, (), (stream_name("bo"),), "integrators: read KC_BO, publish nothing"))
    return out


def _q(subject: str) -> str:
    return json.dumps(subject)


def _list(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _domain_form(subject: str) -> str:
    return subject.replace("$JS.API.", f"$JS.{DOMAIN}.API.", 1)


def accounts_conf(instances: Sequence[str] = DEFAULT_INSTANCES, password: Callable[[str], str] | None = None) -> str:
    """The text of ``deploy/nats/accounts.conf`` for these instances: development passwords, or each
    user's ``password(user)`` (``make run``'s generated ones, :class:`Credentials`)."""
    plan = grants(instances)
    generated = password is not None
    password = password or dev_password
    lines = [
        "# GENERATED by `python -m kc_ops.natsconfig accounts"
        + "".join(f" --instance {i}" for i in dict.fromkeys(instances))
        + "`: do not edit by hand.",
        "# Accounts of the khuyencong bus: the streams live in KC (JetStream); each instance, the auditors and the",
        "# integrators have an account of their own that imports from KC exactly what it may use, and its users may",
        "# publish only those subjects. "
        + (
            "Passwords generated for this machine: a secret, never commit it."
            if generated
            else "Passwords are DEVELOPMENT ONLY (dev-<user>): see deploy/nats/README.md."
        ),
        "",
        f"system_account: {SYSTEM_ACCOUNT}",
        "",
        "accounts {",
        f"  {SYSTEM_ACCOUNT} {{",
        f"    users: [{{user: {_q(SYSTEM_USER)}, password: {_q(password(SYSTEM_USER))}}}]",
        "  }",
        "",
        "  # The bus: every stream. Only operators (kc_runtime.bus.streams ensure) log in here.",
        f"  {BUS_ACCOUNT} {{",
        "    jetstream: enabled",
        f"    users: [{{user: {_q(ADMIN_USER)}, password: {_q(password(ADMIN_USER))}}}]",
        "    exports: [",
    ]
    all_accounts = [g.account for g in plan]
    lines.append(f"      {{service: {_q(_ACCOUNT_INFO)}, accounts: {_list(all_accounts)}}}")
    for g in plan:
        for subject in g.publish_subjects():
            lines.append(f"      {{service: {_q(subject)}, accounts: [{g.account}]}}")
    streams = list(dict.fromkeys(s for g in plan for s in g.reads))
    for stream in streams:
        readers = [g.account for g in plan if stream in g.reads]
        for template, response in _READ_API:
            extra = f", response_type: {response}" if response != "singleton" else ""
            lines.append(f"      {{service: {_q(template.format(stream=stream))}{extra}, accounts: {_list(readers)}}}")
        lines.append(f"      {{service: {_q(_ACKS.format(stream=stream))}, accounts: {_list(readers)}}}")
    lines += ["    ]", "  }"]
    for g in plan:
        allowed = g.publish_subjects() + [s for a in g.api_subjects() for s in (a, _domain_form(a))] + g.ack_subjects()
        lines += [
            "",
            f"  # {g.role}",
            f"  {g.account} {{",
            f"    users: [{{user: {_q(g.user)}, password: {_q(password(g.user))}}}]",
            "    default_permissions: {",
            "      publish: [",
            *(f"        {_q(s)}" for s in allowed),
            "      ]",
            '      subscribe: ["_INBOX.>"]',
            "    }",
            "    imports: [",
        ]
        for subject in g.publish_subjects() + g.ack_subjects():
            lines.append(f"      {{service: {{account: {BUS_ACCOUNT}, subject: {_q(subject)}}}}}")
        for subject in g.api_subjects():
            source = f"{{account: {BUS_ACCOUNT}, subject: {_q(subject)}}}"
            lines.append(f"      {{service: {source}}}")
            lines.append(f"      {{service: {source}, to: {_q(_domain_form(subject))}}}")
        lines += ["    ]", "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def config_dir() -> Path:
    """``deploy/nats`` of this checkout (``KC_NATS_CONFIG_DIR`` overrides)."""
    configured = os.environ.get("KC_NATS_CONFIG_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[4] / "deploy" / "nats"


# -- servers started from the committed files -------------------------------------------------------------------


_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through an HTTP proxy


def _get_json(port: int, path: str, timeout_s: float = 1.0) -> tuple[int, Any]:
    try:
        with _LOCAL.open(f"http://127.0.0.1:{port}{path}", timeout=timeout_s) as response:
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return int(exc.code), None
    except (OSError, ValueError):
        return 0, None


@dataclass
class ServerProcess:
    """One nats-server process: a committed config plus the environment naming its ports and store."""

    name: str
    config: Path
    env: dict[str, str]
    port: int
    http_port: int
    log_file: Path
    ready: Callable[[ServerProcess], bool] | None = None
    password: Callable[[str], str] = field(default=dev_password, repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, user: str | None = None) -> str:
        auth = f"{user}:{self.password(user)}@" if user else ""
        return f"nats://{auth}127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        """Start the process (returns at once; :meth:`wait_ready` waits for it)."""
        if self.running:
            return
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [str(nats_server_binary()), "-c", str(self.config)],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )

    def monitor(self, path: str) -> Any:
        """A monitoring endpoint's JSON (``/varz``, ``/jsz`` …), None when it does not answer."""
        status, body = _get_json(self.http_port, path)
        return body if status == 200 else None

    def healthy(self) -> bool:
        """``/healthz`` says ok: listening, and with JetStream, in contact with the meta leader and caught up."""
        if not self.running:
            return False
        status, _ = _get_json(self.http_port, "/healthz")
        return status == 200 and (self.ready is None or self.ready(self))

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"nats-server {self.name} exited with {self.process.returncode}; see {self.log_file}"
                )
            if self.healthy():
                return
            time.sleep(0.1)
        raise TimeoutError(f"nats-server {self.name} not healthy within {timeout_s}s; see {self.log_file}")

    def kill(self) -> None:
        """SIGKILL: no goodbye to the cluster, no flush (a crash)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class NatsDeployment:
    """Servers started together from ``deploy/nats``: ``start``, ``kill(node)``, ``restart(node)``, ``urls``, ``stop``.

    A node keeps its ports and store across ``kill``/``restart``, like a machine that rebooted.
    """

    def __init__(
        self, servers: Sequence[ServerProcess], client_nodes: Sequence[str] | None = None, *, in_order: bool = False
    ) -> None:
        self.nodes = {s.name: s for s in servers}
        self.client_nodes = list(client_nodes or self.nodes)
        self.in_order = in_order  # each node healthy before the next starts (a leaf after its hub)

    def __getitem__(self, node: str) -> ServerProcess:
        return self.nodes[node]

    def start(self, timeout_s: float = 30.0) -> NatsDeployment:
        try:
            for server in self.nodes.values():
                server.spawn()
                if self.in_order:
                    server.wait_ready(timeout_s)
            for server in self.nodes.values():  # a cluster's nodes start together: each waits for the others
                server.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, node: str) -> None:
        self.nodes[node].kill()

    def restart(self, node: str, timeout_s: float = 30.0) -> None:
        """Start a killed or stopped node again (same ports, same store) and wait until it is healthy."""
        server = self.nodes[node]
        server.stop()
        server.spawn()
        server.wait_ready(timeout_s)

    @property
    def running(self) -> bool:
        """At least one node runs."""
        return any(server.running for server in self.nodes.values())

    def wait_healthy(self, timeout_s: float = 30.0) -> None:
        """Every running node healthy (after a restart: caught up with its streams)."""
        for server in self.nodes.values():
            if server.running:
                server.wait_ready(timeout_s)

    def urls(self, user: str | None = None, nodes: Iterable[str] | None = None) -> list[str]:
        """Client URLs (with ``user``'s development credentials) of ``nodes`` (default: where clients go)."""
        return [self.nodes[n].url(user) for n in (nodes or self.client_nodes)]

    def url(self, user: str | None = None, nodes: Iterable[str] | None = None) -> str:
        """:meth:`urls` comma-joined, as ``KC_NATS_URL`` takes them."""
        return ",".join(self.urls(user, nodes))

    def stop(self) -> None:
        for server in self.nodes.values():
            with contextlib.suppress(Exception):
                server.stop()

    def __enter__(self) -> NatsDeployment:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def single(workdir: Path, *, configs: Path | None = None) -> NatsDeployment:
    """``single.conf``: one server, the accounts, JetStream under ``workdir``."""
    base = configs or config_dir()
    port, http = free_port(), free_port()
    env = {"KC_NATS_PORT": str(port), "KC_NATS_HTTP_PORT": str(http), "KC_NATS_STORE_DIR": str(workdir / "single")}
    return NatsDeployment([ServerProcess("single", base / "single.conf", env, port, http, workdir / "single.log")])


class Credentials:
    """The passwords of a bus's users, generated on first use and kept in a JSON file only its owner
    reads (``make run``: ``var/nats/credentials.json``). Never committed, never printed but for the
    integrator's connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._passwords: dict[str, str] = {}
        if path.exists():
            loaded = json.loads(path.read_text("utf-8"))
            self._passwords = {str(k): str(v) for k, v in loaded.get("users", {}).items()}

    def ensure(self, users: Iterable[str]) -> Credentials:
        """Give every user in ``users`` a password (keeping the existing ones) and save the file (0600)."""
        missing = [u for u in dict.fromkeys(users) if u not in self._passwords]
        if missing or not self.path.exists():
            self._passwords |= {u: secrets.token_urlsafe(24) for u in missing}
            _write_private(self.path, json.dumps({"users": self._passwords}, indent=2) + "\n")
        return self

    def password(self, user: str) -> str:
        try:
            return self._passwords[user]
        except KeyError:
            raise KeyError(f"{self.path} has no password for NATS user {user!r}") from None

    def url(self, servers: str, user: str) -> str:
        """``servers`` (``nats://host:port``, comma-separated) with ``user``'s credentials in each URL."""
        auth = f"{quote(user, safe='')}:{quote(self.password(user), safe='')}@"
        return ",".join(u.strip().replace("://", f"://{auth}", 1) for u in servers.split(",") if u.strip())


def _write_private(path: Path, text: str) -> None:
    """Write a secret: the directory and the file readable by their owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    tmp.replace(path)


def users_of(instances: Sequence[str]) -> list[str]:
    """Every user of the accounts of these instances (the operator, the system user, each instance's,
    the auditor, the integrator)."""
    return [ADMIN_USER, SYSTEM_USER, *(g.user for g in grants(instances))]


def local(
    workdir: Path,
    instances: Sequence[str],
    *,
    port: int | None = None,
    http_port: int | None = None,
    log_file: Path | None = None,
    configs: Path | None = None,
) -> NatsDeployment:
    """``make run``'s bus: ``single.conf`` with the accounts of ``instances``, JetStream under ``workdir``.

    The users' passwords are generated on first run into ``workdir/credentials.json`` (:class:`Credentials`);
    ``workdir/conf/`` gets a copy of ``single.conf`` and the accounts file generated with those passwords (it
    includes ``accounts.conf`` beside itself), rewritten on every start so the instance list can grow.
    """
    base = configs or config_dir()
    credentials = Credentials(workdir / "credentials.json").ensure(users_of(instances))
    conf = workdir / "conf"
    conf.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_private(conf / "accounts.conf", accounts_conf(instances, credentials.password))
    (conf / "single.conf").write_text((base / "single.conf").read_text("utf-8"), "utf-8")
    port = port or free_port()
    http = http_port or free_port()  # the monitoring port (/varz, /jsz, /healthz), on loopback as ``host``
    env = {"KC_NATS_PORT": str(port), "KC_NATS_HTTP_PORT": str(http), "KC_NATS_STORE_DIR": str(workdir)}
    server = ServerProcess(
        "nats",
        conf / "single.conf",
        env,
        port,
        http,
        log_file or workdir / "nats-server.log",
        password=credentials.password,
    )
    return NatsDeployment([server])


def cluster(workdir: Path, *, configs: Path | None = None) -> NatsDeployment:
    """``cluster/n1.conf`` … ``n3.conf``: three routed servers for R3 streams, each with its store under ``workdir``."""
    base = configs or config_dir()
    ports = {n: (free_port(), free_port(), free_port()) for n in CLUSTER_NODES}  # client, monitoring, route
    env = {"KC_NATS_ROUTES": json.dumps([f"nats-route://127.0.0.1:{p[2]}" for p in ports.values()])}
    for node, (client, http, route) in ports.items():
        key = f"KC_NATS_{node.upper()}"
        env |= {
            f"{key}_PORT": str(client),
            f"{key}_HTTP_PORT": str(http),
            f"{key}_CLUSTER_PORT": str(route),
            f"{key}_STORE_DIR": str(workdir / node),
        }
    return NatsDeployment(
        [
            ServerProcess(node, base / "cluster" / f"{node}.conf", env, client, http, workdir / f"{node}.log")
            for node, (client, http, _) in ports.items()
        ]
    )


def _has_leaf_connection(server: ServerProcess) -> bool:
    leafz = server.monitor("/leafz")
    return bool(leafz and leafz.get("leafnodes", 0) >= 1)


def hub_and_leaf(workdir: Path, *, province: str = "tinh-40", configs: Path | None = None) -> NatsDeployment:
    """``leaf/hub.conf`` (the ministry, accepting leaf nodes) and ``leaf/<province>.conf`` joined to it.

    Nodes ``hub`` and ``<province>``; clients go to the hub unless asked for the leaf's URLs.
    """
    base = configs or config_dir()
    hub_port, hub_http, leaf_listen = free_port(), free_port(), free_port()
    hub_env = {
        "KC_NATS_PORT": str(hub_port),
        "KC_NATS_HTTP_PORT": str(hub_http),
        "KC_NATS_STORE_DIR": str(workdir / "hub"),
        "KC_NATS_LEAF_HOST": "127.0.0.1",
        "KC_NATS_LEAF_PORT": str(leaf_listen),
    }
    hub = ServerProcess("hub", base / "leaf" / "hub.conf", hub_env, hub_port, hub_http, workdir / "hub.log")
    key = f"KC_NATS_{account_of(province)}"
    leaf_port, leaf_http = free_port(), free_port()
    leaf_env = {
        f"{key}_PORT": str(leaf_port),
        f"{key}_HTTP_PORT": str(leaf_http),
        f"{key}_HUB_URLS": json.dumps([f"nats-leaf://{province}:{dev_password(province)}@127.0.0.1:{leaf_listen}"]),
    }
    leaf = ServerProcess(
        province,
        base / "leaf" / f"{province}.conf",
        leaf_env,
        leaf_port,
        leaf_http,
        workdir / f"{province}.log",
        ready=_has_leaf_connection,
    )
    return NatsDeployment([hub, leaf], client_nodes=["hub"], in_order=True)


# -- command line -----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kc_ops.natsconfig", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    accounts = commands.add_parser("accounts", help="print deploy/nats/accounts.conf for these instances")
    accounts.add_argument("--instance", action="append", help="bo | tinh-<code> (default: bo, tinh-40, tinh-31)")
    args = parser.parse_args(argv)
    if args.command == "accounts":
        try:
            sys.stdout.write(accounts_conf(args.instance or DEFAULT_INSTANCES))
        except ValueError as exc:
            sys.stderr.write(f"lỗi / error: {exc}\n")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
