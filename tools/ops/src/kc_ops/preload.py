"""Starting ``make run``'s services from one warm interpreter (the pre-forking launcher).

Every service is a Python process that imports the same libraries before it does anything of its own
(FastAPI, pydantic, uvicorn, cryptography, faststream, eventsourcing, psycopg, the contracts): about
1.5 s of CPU each, fourteen times over on two cores — most of ``make run``'s cold start. The supervisor
imports them once and forks each service from itself: the child has them already and only runs its own
module (``runpy``, as ``python -m`` would), so it is ready in a fraction of the time. Memory is not
counted twice either: the imported code is shared, copy-on-write.

Two stages, so no service carries what it never imports (each process's RSS stays its own): the web
layer every service shares (:data:`COMMON`), then the event-sourced service stack (:data:`SERVICE_STACK`)
for all but the services marked ``runtime = "web"`` (the console: no event store, no consumers), which
are forked before the second stage is imported.

Each child is what ``subprocess.Popen([python, "-m", module], env=…, stdout=log, stderr=log,
stdin=DEVNULL, start_new_session=True, preexec_fn=die_with_parent)`` gave: its own session, SIGTERM
when the supervisor dies, the environment it is given (nothing reads ``KC_*`` at import time:
:mod:`kc_runtime.settings`), no inherited descriptor but its log. :class:`Forked` answers as a
``Popen`` does (``pid``, ``poll``, ``wait``, ``terminate``, ``kill``, ``send_signal``, ``returncode``).
Where a process cannot be forked safely (another thread running, no ``fork``), or a service's
environment changes how Python starts (``PYTHONPATH``), the supervisor starts it with ``Popen``.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path

from kc_ops.natsserver import die_with_parent

# what every service imports, the console included
COMMON = (
    "kc_runtime.process",
    "kc_runtime.web.auth",
    "kc_runtime.web.metrics",
    "kc_runtime.metrics",
    "kc_runtime.keys",
    "kc_runtime.logs",
    "kc_contracts.appraisal_events",
    "kc_contracts.planning_events",
    "kc_contracts.registry_events",
    "kc_kernel.vocabulary",
)
# what every event-sourced service imports besides (bus, event store, views, HTTP problem handling)
SERVICE_STACK = (
    "kc_runtime.service",
    "kc_runtime.web.stack",
    "kc_runtime.bus.relay",
    "kc_runtime.bus.inbox",
    "kc_runtime.bus.deadletters",
    "kc_runtime.bus.metrics",
    "kc_runtime.store.eventstore",
    "kc_runtime.store.views",
    "kc_runtime.store.localprojection",
    "kc_runtime.store.files",
    "kc_runtime.web.errors",
    "kc_runtime.web.guards",
    "kc_runtime.web.probes",
    "kc_runtime.web.apidocs",
    "kc_runtime.web.fields",
    "kc_runtime.tracing",
    "kc_runtime.spreadsheets",
    "kc_runtime.adminunits",
    "kc_kernel.dated",
)
# environment variables that change how an interpreter starts: a service given one is started afresh
STARTUP_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONSAFEPATH", "PYTHONNOUSERSITE")


def preload(modules: Iterable[str]) -> None:
    for name in modules:
        importlib.import_module(name)


def can_fork(env: Mapping[str, str]) -> bool:
    """Forking copies only the calling thread: only a process running one thread may fork a service."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    return not any(env.get(v) != os.environ.get(v) for v in STARTUP_VARIABLES)


class Forked:
    """A service forked from the supervisor, answering as :class:`subprocess.Popen` does."""

    def __init__(self, pid: int, args: list[str]) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: it is gone
                self.returncode = self.returncode if self.returncode is not None else -1
                return self.returncode
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def fork_service(module: str, env: Mapping[str, str], log_file: Path) -> Forked:
    """Run ``module`` as ``python -m module`` would, in a child of this process, writing to ``log_file``."""
    log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # nothing buffered here is written twice
    gc.collect()
    gc.freeze()  # what exists now is never collected in a child (no finaliser there closes a descriptor)
    pid = os.fork()
    if pid == 0:  # the child: never returns
        _run_child(module, dict(env), log_fd)
    os.close(log_fd)
    return Forked(pid, [sys.executable, "-m", module])


def _run_child(module: str, env: dict[str, str], log_fd: int) -> None:
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()
        die_with_parent()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        for fd in _open_descriptors():
            if fd > 2:
                with contextlib.suppress(OSError):
                    os.close(fd)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = [module]
        import runpy

        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            sys.stderr.write(f"{exc.code}\n")
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):
                stream.flush()
        os._exit(code)


def _open_descriptors() -> list[int]:
    try:
        return sorted(int(fd.name) for fd in Path("/proc/self/fd").iterdir())
    except OSError:
        return list(range(3, 256))
