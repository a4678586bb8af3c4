"""``make bench``: the whole system and the raw limits it stands on, measured in one run on one machine,
in one table (measure | system | raw limit | ratio | target | met?) and one JSON file.

1. province command → ministry national view updated at 100 commands/s (p50, p99, max), next to a
   raw nats-py JetStream publish → consume round trip on the same nats-server (``bench_flow``);
2. sustained commands/s on one instance with its consumers keeping up, next to the raw eventsourcing
   save rate on the same file system (``bench_flow``);
3. projection rebuild of 100,000 and 1,000,000 events (events/s, peak RSS), next to a raw read and
   decode of the same events from the same stream (``bench_rebuild``);
4. idle RSS of each service and the cold start of ``make run`` to all ready (``bench_system``), taken
   on the same system as 1 and 2 before any load;
and, without a raw limit, the registry's import and search (``bench_registry``).

Every part starts its own nats-server on a free loopback port with a temporary store.

Usage: bench.py [--quick] [--dir var/bench]. ``--quick`` (``make bench BENCH_QUICK=1``) skips the
1,000,000-event rebuild and shortens the loads, for development; the targets are judged on the full run.
Writes ``<dir>/bench.json`` (the table, every part's numbers, the machine and its load) and one JSON
per part (flow.json, rebuild.json, registry.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_flow  # noqa: E402
import bench_rebuild  # noqa: E402

# ARCHITECTURE.md §8: ratios to the raw limit measured in the same run (machines differ about 2×)
P50_TIMES_RAW = 3.0  # command → view p50 ≤ 3× the raw JetStream round trip's p50
P99_TIMES_RAW = 10.0  # … p99 ≤ 10× its p99
SAVES_RATIO = 0.15  # sustained commands/s ≥ 0.15× raw eventsourcing saves/s on the same store
CPU_MS_PER_COMMAND = 6.0  # all processes of the system (the bench client apart)
REBUILD_RATIO = 1.0  # rebuild events/s ≥ 1.0× one process's raw read + decode of the same stream
IDLE_RSS_MB = 120.0
COLD_START_S = 20.0
FLAT_RSS = 1.25  # "flat memory": the 1M rebuild's peak RSS within 25 % of the 100k one's


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def ratio(system: float | None, raw: float | None) -> float | None:
    if system is None or raw is None or not raw:
        return None
    return round(system / raw, 2)


def row(
    measure: str,
    system: float | None,
    raw: float | None = None,
    target: str = "",
    met: bool | None = None,
    raw_label: str = "",
) -> dict[str, Any]:
    return {
        "measure": measure,
        "system": system,
        "raw": raw,
        "raw_limit": raw_label,
        "ratio": ratio(system, raw),
        "target": target,
        "met": met,
    }


def flow_rows(flow: dict[str, Any], store: str) -> list[dict[str, Any]]:
    """Parts 1 and 2 on one store (``[sqlite]``, ``[postgres]``)."""
    rows: list[dict[str, Any]] = []
    tag = f"[{store}]"
    rtt, c2v = flow["raw_round_trip"], flow["command_to_view"]
    total = c2v["command_to_view"]
    raw_rtt = "nats-py JetStream publish→consume"
    rows.append(
        row(
            f"1. {tag} command→national view p50 ms @{c2v['rate_per_s']:.0f}/s",
            total["p50_ms"],
            rtt["p50_ms"],
            f"≤ {P50_TIMES_RAW:.0f}× raw",
            total["p50_ms"] <= P50_TIMES_RAW * rtt["p50_ms"],
            raw_rtt,
        )
    )
    rows.append(
        row(
            "   command→national view p99 ms",
            total["p99_ms"],
            rtt["p99_ms"],
            f"≤ {P99_TIMES_RAW:.0f}× raw",
            total["p99_ms"] <= P99_TIMES_RAW * rtt["p99_ms"],
            raw_rtt,
        )
    )
    rows.append(row("   command→national view max ms", total["max_ms"], rtt["max_ms"], "", None, raw_rtt))
    for label, key in (
        ("   of which HTTP answer p50 ms", "command_http_answer"),
        ("   of which command→published p50 ms", "command_to_published"),
        ("   of which published→view p50 ms", "published_to_view"),
    ):
        rows.append(row(label, c2v[key]["p50_ms"]))
    lost = c2v["failed"] + c2v["missing_in_view"]
    rows.append(row("   commands failed or missing in view", lost, None, "0", lost == 0))

    sus, saves = flow["sustained"], flow["raw_saves"]
    rate = sus["commands_per_s_sustained"]
    rows.append(
        row(
            f"2. {tag} sustained commands/s, one instance",
            rate,
            saves["saves_per_s"],
            f"≥ {SAVES_RATIO}× raw",
            rate >= SAVES_RATIO * saves["saves_per_s"] and sus["lag_bounded"],
            f"eventsourcing saves/s, same {'server' if store == 'postgres' else 'FS'}",
        )
    )
    rows.append(row("   consumers' lag bounded (caught up s)", sus["drain_s"], None, "≤ 5 s", sus["lag_bounded"]))
    consume = flow.get("raw_consume")
    if consume:
        rows.append(
            row(
                "   raw consume msgs/s, max_ack_pending=1",
                consume["one_at_a_time_per_s"],
                consume["batched_per_s"],
                "",
                None,
                "same, batched (fetch 256)",
            )
        )
    cpu = sus["system_cpu_ms_per_command"]
    rows.append(
        row("   system CPU ms per command", cpu, None, f"≤ {CPU_MS_PER_COMMAND:.0f}", cpu <= CPU_MS_PER_COMMAND)
    )
    if sus.get("cpu_bound_commands_per_s"):
        rows.append(row(f"   CPU-bound commands/s ({sus['cpus']} cores)", sus["cpu_bound_commands_per_s"]))
    return rows


def table(
    flows: dict[str, dict[str, Any]], rebuild: list[dict[str, Any]], registry: dict[str, Any] | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for store, flow in flows.items():
        rows += flow_rows(flow, store)
    flow = flows.get("sqlite") or next(iter(flows.values()))

    by_size = {r["events"]: r for r in rebuild}
    raw_read = "read+decode, same stream"
    for r in rebuild:
        n = r["events"]
        label = f"{n:,}"
        rows.append(
            row(
                f"3. rebuild {label} events/s",
                r["rebuild_events_per_s"],
                r["raw_read_decode_events_per_s"],
                f"≥ {REBUILD_RATIO}× raw",
                r["rebuild_events_per_s"] >= REBUILD_RATIO * r["raw_read_decode_events_per_s"],
                raw_read,
            )
        )
        rows.append(
            row(
                f"   rebuild {label} events/CPU-s",
                round(n / r["rebuild_cpu_s"]) if r.get("rebuild_cpu_s") else None,
                None,
            )
        )
        rows.append(
            row(f"   rebuild {label} peak RSS MB", r["rebuild_peak_rss_mb"], r["raw_peak_rss_mb"], "", None, raw_read)
        )
        if n >= 1_000_000:
            rows.append(row(f"   rebuild {label} seconds", r["rebuild_s"]))
            small = by_size.get(100_000)
            if small:
                flat = r["rebuild_peak_rss_mb"] <= FLAT_RSS * small["rebuild_peak_rss_mb"]
                rows.append(
                    row(
                        "   peak RSS 1M / 100k (flat memory)",
                        round(r["rebuild_peak_rss_mb"] / small["rebuild_peak_rss_mb"], 2),
                        None,
                        f"≤ {FLAT_RSS}",
                        flat,
                    )
                )

    system = flow["system"]
    idle = system["idle_rss_mb"]
    worst = max(idle, key=lambda k: idle[k])
    rows.append(
        row(
            f"4. idle RSS MB, largest ({worst})",
            idle[worst],
            None,
            f"≤ {IDLE_RSS_MB:.0f}",
            all(v <= IDLE_RSS_MB for v in idle.values()),
        )
    )
    for name, mb in idle.items():
        if name != worst:
            rows.append(row(f"   idle RSS MB {name}", mb, None, f"≤ {IDLE_RSS_MB:.0f}", mb <= IDLE_RSS_MB))
    rows.append(
        row(
            "   make run cold start → all ready s",
            system["cold_start_s"],
            None,
            f"≤ {COLD_START_S:.0f}",
            system["cold_start_s"] <= COLD_START_S,
        )
    )
    if registry:
        for key, value in registry.items():
            if key.startswith("import_1000_apply") or (key.endswith("p50 ms") and "dong thap" in key):
                rows.append(row(f"   registry {key.replace('_', ' ')}", round(value, 1)))
    for label, key in (
        ("5. console work queue p95 ms (Sở officer)", "console_idle"),
        ("   console work queue p95 ms under load", "console_under_load"),
    ):
        found = flow.get(key) or {}
        if found.get("p95_ms") is not None:
            rows.append(row(label, found["p95_ms"], None, "≤ 300", found["p95_ms"] <= 300))
    return rows


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(rows: list[dict[str, Any]]) -> str:
    header = ["measure", "system", "raw limit", "ratio", "target", "met?", "raw limit is"]
    body = [
        [
            r["measure"],
            fmt(r["system"]),
            fmt(r["raw"]),
            f"{r['ratio']:.2f}×" if r["ratio"] is not None else "",
            r["target"],
            fmt(r["met"]),
            r["raw_limit"],
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    align = ["<", ">", ">", ">", "<", "<", "<"]
    lines = [
        "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(line, align, widths, strict=True)) for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def compare(before: dict[str, Any], flows: dict[str, dict[str, Any]]) -> str:
    """CPU ms per command under the sustained load, by process, in an earlier run and in this one."""
    earlier = before.get("flows") or {"sqlite": before["flow"]}  # a bench.json from before both stores
    lines = []
    for store, flow in flows.items():
        if store not in earlier:
            continue
        old, new = earlier[store]["sustained"], flow["sustained"]
        a, b = old["cpu_ms_per_command"], new["cpu_ms_per_command"]
        lines.append(f"[{store}] CPU ms per command, before → after (sustained load)")
        for name in sorted(set(a) | set(b), key=lambda k: -max(a.get(k, 0), b.get(k, 0))):
            lines.append(f"  {name:<26} {a.get(name, 0):>7.2f} → {b.get(name, 0):>7.2f}")
        lines.append(
            f"  {'system (all but the client)':<26} {old['system_cpu_ms_per_command']:>7.2f} →"
            f" {new['system_cpu_ms_per_command']:>7.2f}"
        )
        lines.append(
            f"  {'sustained commands/s':<26} {old['commands_per_s_sustained']:>7.1f} →"
            f" {new['commands_per_s_sustained']:>7.1f}"
        )
    return "\n".join(lines)


def write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the 1M rebuild, shorter loads (development)")
    parser.add_argument("--dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--no-registry", action="store_true")
    parser.add_argument("--no-rebuild", action="store_true", help="parts 1, 2 and 4 only (development)")
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite,postgres (PostgreSQL: KC_BENCH_POSTGRES)")
    parser.add_argument("--compare", type=Path, help="an earlier bench.json: CPU per command per process, before/after")
    args = parser.parse_args()
    began = time.monotonic()
    env = machine()
    print(
        f"make bench{' (quick)' if args.quick else ''}: {env['cpus']} cores, {env['cpu']}, load {env['loadavg']}",
        flush=True,
    )

    flows: dict[str, dict[str, Any]] = {}
    for store in args.stores.split(","):
        if store == "postgres" and (why := bench_flow.postgres_unreachable()):
            print(f"· [postgres] skipped: {why}", flush=True)
            continue
        print(
            f"· [{store}] system: make run cold start, idle RSS, raw round trip, command → national view,"
            " sustained load …",
            flush=True,
        )
        flows[store] = bench_flow.run(
            rate=100.0,
            seconds=10.0 if args.quick else 20.0,
            load_seconds=10.0 if args.quick else 20.0,
            clients=8,
            store=store,
        )
        flows[store]["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    write(args.dir / "flow.json", {"flows": flows})

    sizes = [] if args.no_rebuild else [100_000] if args.quick else [100_000, 1_000_000]
    rebuild = []
    for n in sizes:
        print(f"· rebuild of {n:,} events next to a raw read and decode …", flush=True)
        rebuild.append(bench_rebuild.run_size(n))
    write(args.dir / "rebuild.json", {"rebuild": rebuild})

    registry = None
    if not args.no_registry:
        print("· registry: 1,000-row import, search over 10,000 …", flush=True)
        import bench_registry

        registry = bench_registry.run()
        write(args.dir / "registry.json", {"registry": registry})

    rows = table(flows, rebuild, registry)
    env["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    env["seconds"] = round(time.monotonic() - began, 1)
    print()
    print(render(rows))
    judged = [r for r in rows if r["met"] is not None]
    print(
        f"\n{sum(1 for r in judged if r['met'])}/{len(judged)} targets met"
        f"{' (quick run: the 1M rebuild was skipped)' if args.quick else ''}; "
        f"load average {env['loadavg']} → {env['loadavg_end']} on {env['cpus']} cores; {env['seconds']} s"
    )
    for store, flow in flows.items():
        print(
            f"[{store}] CPU ms per command under sustained load, by process:",
            json.dumps(flow["sustained"]["cpu_ms_per_command"], ensure_ascii=False),
        )
    if args.compare:
        print()
        print(compare(json.loads(args.compare.read_text()), flows))
    out = args.dir / "bench.json"
    write(
        out,
        {
            "machine": env,
            "quick": args.quick,
            "table": rows,
            "flows": flows,
            "rebuild": rebuild,
            "registry": registry,
        },
    )
    print(f"JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
