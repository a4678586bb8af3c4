"""System benchmark: `make run` (ministry + two provinces, DEMO=0) from cold to all services ready,
and each service's idle RSS, against ARCHITECTURE §8 (≤ 20 s; ≤ 120 MB per service)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.monotonic()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kc_runtime.supervisor",
                "deploy/local/system.toml",
                "--var-dir",
                f"{tmp}/var",
                "--auto-ports",
                "--no-demo",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        assert proc.stdout is not None
        banner = []
        for line in proc.stdout:
            banner.append(line.rstrip())
            if line.startswith("Ctrl-C to stop."):
                break
        cold_start = time.monotonic() - began
        time.sleep(10)  # idle
        services: dict[str, float] = {}
        instance = ""
        for line in banner:
            if line.strip().startswith("[") and line.strip().endswith("]"):
                instance = line.strip()[1:-1]
            if "pid " in line:
                name = line.split()[0]
                pid = int(line.rsplit("pid ", 1)[1].rstrip(")"))
                services[f"{instance}/{name}"] = round(rss_mb(pid), 1)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    results = {
        "cold_start_s": round(cold_start, 1),
        "cold_start_target_s": 20,
        "idle_rss_mb": services,
        "idle_rss_max_mb": max(services.values()),
        "idle_rss_target_mb": 120,
    }
    print(f"{'system measure':<40} {'value':>10} {'target':>10}")
    print(f"{'make run cold start → all ready (s)':<40} {results['cold_start_s']:>10} {20:>10}")
    for name, mb in services.items():
        print(f"{'idle RSS ' + name + ' (MB)':<40} {mb:>10} {120:>10}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"system": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
