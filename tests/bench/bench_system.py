"""System benchmark: `make run` (ministry + two provinces, DEMO=0) from cold to all services ready,
and each service's idle RSS, against ARCHITECTURE §8 (≤ 20 s; ≤ 120 MB per service).

``start_system`` / ``SystemUnderTest`` are also used by ``bench_flow.py``, which measures the bus on
the same running system after the idle RSS has been taken.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IDLE_S = 10.0
CONSOLE = re.compile(r"^console\s+http://\S+\s+\((?P<instance>[\w-]+), pid (?P<pid>\d+)\)$")


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class SystemUnderTest:
    """The whole system as ``make run`` starts it, as real processes, under ``var_dir``."""

    var_dir: Path
    proc: subprocess.Popen[str]
    banner: list[str]
    cold_start_s: float
    pids: dict[str, int] = field(default_factory=dict)  # "bo/planning" -> pid
    database: str | None = None  # the PostgreSQL database every service's store is in (None: SQLite)
    database_url: str = ""

    @property
    def run(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.var_dir / "run.json").read_text())
        return data

    def url(self, name: str) -> str:
        return str(self.run["services"][name])

    @property
    def nats_url(self) -> str:
        """The bus as its operator (the raw limits publish and read streams directly)."""
        from kc_ops.natsconfig import ADMIN_USER, Credentials

        return Credentials(Path(self.run["nats_credentials"])).url(str(self.run["nats"]), ADMIN_USER)

    def rss(self) -> dict[str, float]:
        return {name: round(rss_mb(pid), 1) for name, pid in self.pids.items()}

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by each process of the system: the services by
        name, nats-server, the supervisor (and anything else it started) as ``supervisor``."""
        names = {pid: name for name, pid in self.pids.items()}
        tick = os.sysconf("SC_CLK_TCK")
        procs: dict[int, tuple[int, str, float]] = {}  # pid -> (ppid, comm, cpu seconds)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm, _, rest = stat.partition("(")[2].rpartition(")")
            fields = rest.split()
            procs[int(entry.name)] = (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / tick)
        out: dict[str, float] = {}
        if self.database:  # the server's backends serving the system's connections (titled with the database)
            for pid, (_, _comm, cpu) in procs.items():
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if title.startswith("postgres: ") and f" {self.database} " in title:
                    out["postgresql"] = out.get("postgresql", 0.0) + cpu
        for pid, (_, comm, cpu) in procs.items():
            ancestor = pid
            while ancestor in procs and ancestor != self.proc.pid:
                ancestor = procs[ancestor][0]
            if ancestor != self.proc.pid:
                continue  # not part of the system
            name = names.get(pid) or ("nats-server" if "nats-server" in comm else "supervisor")
            out[name] = out.get(name, 0.0) + cpu
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)  # what Ctrl-C does: services first, then NATS
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def start_system(var_dir: Path, timeout_s: float = 180.0, env: dict[str, str] | None = None) -> SystemUnderTest:
    """``make run`` under ``var_dir``; ``env`` adds to the services' environment (``KC_DATABASE_URL``: every
    service's store on that PostgreSQL database, a schema each, instead of SQLite files)."""
    began = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kc_ops.supervisor",
            "deploy/local/system.toml",
            "--var-dir",
            str(var_dir),
            "--auto-ports",
            "--no-demo",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"} | (env or {}),
    )
    assert proc.stdout is not None
    banner = []
    for line in proc.stdout:
        banner.append(line.rstrip())
        if line.startswith("Ctrl-C to stop."):
            break
        if time.monotonic() - began > timeout_s:
            break
    cold_start = time.monotonic() - began
    if not banner or not banner[-1].startswith("Ctrl-C to stop."):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        logs = [
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            for log in sorted((var_dir / "logs").glob("*.log"))
            if "rror" in log.read_text(errors="replace")
        ]
        raise RuntimeError("the system did not become ready:\n" + "\n".join(banner[-30:] + logs))
    pids: dict[str, int] = {}
    instance = ""
    for line in banner:
        if line.strip().startswith("[") and line.strip().endswith("]"):
            instance = line.strip()[1:-1]
        if console := CONSOLE.match(line):  # the consoles come first, each naming its instance
            pids[f"{console['instance']}/console"] = int(console["pid"])
        elif "pid " in line:
            name = line.split()[0]
            pids[f"{instance}/{name}"] = int(line.rsplit("pid ", 1)[1].rstrip(")"))
    return SystemUnderTest(var_dir, proc, banner, cold_start, pids)


def measure(sut: SystemUnderTest) -> dict[str, Any]:
    """Cold start (already taken) and the idle RSS of each service after ``IDLE_S`` seconds."""
    time.sleep(IDLE_S)
    services = sut.rss()
    return {
        "cold_start_s": round(sut.cold_start_s, 1),
        "cold_start_target_s": 20,
        "idle_rss_mb": services,
        "idle_rss_max_mb": max(services.values()),
        "idle_rss_target_mb": 120,
    }


def print_results(results: dict[str, Any]) -> None:
    print(f"{'system measure':<40} {'value':>10} {'target':>10}")
    print(f"{'make run cold start → all ready (s)':<40} {results['cold_start_s']:>10} {20:>10}")
    for name, mb in results["idle_rss_mb"].items():
        print(f"{'idle RSS ' + name + ' (MB)':<40} {mb:>10} {120:>10}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sut = start_system(Path(tmp) / "var")
        try:
            results = measure(sut)
        finally:
            sut.stop()
    print_results(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"system": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
