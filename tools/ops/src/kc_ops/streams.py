"""Apply the JetStream stream plan (:mod:`kc_runtime.bus.streams`): ``python -m kc_ops.streams ensure``
(run by ``make run``, the test fixtures and deployments; a service never declares streams)."""

from __future__ import annotations

import argparse
import asyncio
import sys

import nats
from kc_runtime.bus.streams import StreamPlan, ensure_streams


async def _main(nats_url: str, instances: list[str], replicas: int) -> int:
    nc = await nats.connect(nats_url.split(","), connect_timeout=5, max_reconnect_attempts=3)
    try:
        for line in await ensure_streams(nc.jetstream(), StreamPlan(tuple(instances), replicas)):
            print(line)
    finally:
        await nc.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kc_ops.streams", description=__doc__)
    parser.add_argument("command", choices=["ensure"])
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    parser.add_argument("--instance", action="append", required=True, help="bo | tinh-<code>")
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args.nats_url, args.instance, args.replicas))
    except (OSError, nats.errors.Error, ValueError) as exc:
        print(f"lỗi / error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
