"""The pre-forking launcher of ``make run`` (kc_ops.preload): a service forked from the warm supervisor
runs as ``python -m module`` would — its own environment, arguments, session and log, no descriptor of the
supervisor's but its log, the shared libraries already imported — and answers as a ``Popen`` does.

Each case runs in a fresh interpreter (the launcher forks the process that calls it; pytest's is not one
to fork)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHILD = """
import json, os, sys
from pathlib import Path
out = Path(os.environ["OUT"])
out.write_text(json.dumps({
    "argv": sys.argv,
    "name": __name__,
    "env": {k: os.environ.get(k) for k in ("KC_INSTANCE", "ONLY_IN_PARENT")},
    "fds": sorted(int(p.name) for p in Path("/proc/self/fd").iterdir()),
    "sid": os.getsid(0),
    "pid": os.getpid(),
    "preloaded": "kc_runtime.web.auth" in sys.modules,
}))
print("hello from the child")
raise SystemExit(int(os.environ.get("EXIT", "0")))
"""

PARENT = """
import json, os, signal, subprocess, sys, time
from pathlib import Path
from kc_ops import preload
tmp = Path(sys.argv[1])
sys.path.insert(0, str(tmp))
os.environ["ONLY_IN_PARENT"] = "yes"
others = [open(os.devnull) for _ in range(4)]  # descriptors the supervisor holds (logs, pipes) …
lock = open(tmp / "held.lock", "a+")  # … and its run lock
preload.preload(preload.COMMON)
env = {"PATH": os.environ["PATH"], "KC_INSTANCE": "tinh-40", "OUT": str(tmp / "out.json"), "EXIT": "3"}
assert preload.can_fork(env)
child = preload.fork_service("kc_child_module", env, tmp / "child.log")
code = child.wait(30)
report = json.loads((tmp / "out.json").read_text())
# one that does not end by itself is stopped as Popen would stop it
env2 = env | {"OUT": str(tmp / "out2.json")}
sleeper = preload.fork_service("kc_sleeper_module", env2, tmp / "sleeper.log")
time.sleep(0.5)
running = sleeper.poll()
sleeper.terminate()
stopped = sleeper.wait(10)
print(json.dumps({"code": code, "report": report, "lock_fd": lock.fileno(), "sid": os.getsid(0),
                  "pid": os.getpid(), "running": running, "stopped": stopped,
                  "popen_like": [hasattr(child, a) for a in ("pid", "poll", "wait", "kill", "send_signal")],
                  "threads_guard": preload.can_fork(env | {"PYTHONPATH": "/elsewhere"})}))
"""


def test_a_forked_service_runs_as_python_dash_m_would(tmp_path: Path) -> None:
    (tmp_path / "kc_child_module.py").write_text(CHILD)
    (tmp_path / "kc_sleeper_module.py").write_text("import time\nwhile True:\n    time.sleep(0.1)\n")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PARENT), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    report = result["report"]
    assert result["code"] == 3  # its exit status, as Popen.wait gives it
    assert report["name"] == "__main__" and report["argv"][0].endswith("kc_child_module.py")
    assert report["env"] == {"KC_INSTANCE": "tinh-40", "ONLY_IN_PARENT": None}  # the environment it was given
    assert report["sid"] == report["pid"] != result["sid"]  # a session of its own (Ctrl-C reaches the supervisor)
    assert report["fds"][:3] == [0, 1, 2] and result["lock_fd"] not in report["fds"]  # nothing inherited
    assert report["fds"] == [0, 1, 2, 3], report["fds"]  # (3: the listing of /proc/self/fd itself)
    assert result["lock_fd"] > 3
    assert report["preloaded"]  # the shared libraries came with the fork
    assert "hello from the child" in (tmp_path / "child.log").read_text()
    assert result["running"] is None and result["stopped"] == -15  # terminate(): SIGTERM, as Popen reports it
    assert all(result["popen_like"])
    assert result["threads_guard"] is False  # a service whose PYTHONPATH differs starts a fresh interpreter


@pytest.mark.timeout(300)
def test_what_is_preloaded_is_what_the_services_import_and_no_more() -> None:
    """The stages stay true as the services change: every module preloaded is imported by each service
    forked after it (the console only after the first stage), so none carries a module it never uses
    (its RSS is its own), and each stage imports."""
    from kc_ops import preload

    script = "import sys, json, importlib; importlib.import_module(sys.argv[1]); print(json.dumps(sorted(sys.modules)))"
    modules = ("kc_registry.main", "kc_appraisal.main", "kc_planning.main", "kc_notifications.main", "kc_console.main")
    # the five imports side by side (each takes ~25 s on a loaded 2-core machine; one after another they
    # outlasted the test's timeout)
    children = {
        module: subprocess.Popen([sys.executable, "-c", script, module], stdout=subprocess.PIPE, text=True)
        for module in modules
    }
    imported = {}
    for module, child in children.items():
        out, _ = child.communicate(timeout=240)
        assert child.returncode == 0, (module, child.returncode)
        imported[module] = set(json.loads(out))
    for module, names in imported.items():
        assert set(preload.COMMON) <= names, (module, set(preload.COMMON) - names)
        if module != "kc_console.main":
            assert set(preload.SERVICE_STACK) <= names, (module, set(preload.SERVICE_STACK) - names)
