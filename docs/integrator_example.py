"""An integrator receives approved plans from khuyencong with nats-py only, and checks each one
against the published JSON Schema (contracts/schemas/planning.plan.approved.v1.json).

    pip install nats-py jsonschema
    python docs/integrator_example.py nats://integrator:<password>@127.0.0.1:14222

The URL is the one `make run` prints on its line beginning with `integrator`: the bus has no
anonymous clients, and the integrator's account reads the ministry's stream (KC_BO) and nothing else.
"""

import asyncio
import json
import sys
from pathlib import Path

import jsonschema
import nats

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "contracts/schemas/planning.plan.approved.v1.json").read_text("utf-8")
)


async def main(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    # a durable consumer: the integrator resumes where it stopped, and gets each approval once
    sub = await js.pull_subscribe("kc.bo.planning.plan.approved.v1", durable="integrator-example", stream="KC_BO")
    try:
        messages = await sub.fetch(100, timeout=5)
    except nats.errors.TimeoutError:
        messages = []
    for msg in messages:
        event = json.loads(msg.data)  # a CloudEvents 1.0 envelope
        plan = event["data"]
        jsonschema.validate(plan, SCHEMA)  # only what the published contract promises
        print(f"{plan['decision_number']} ({plan['decision_date']}), đợt {plan['batch']}, năm {plan['year']}:")
        for line in plan["lines"]:
            vnd = f"{line['approved_support_vnd']:,}".replace(",", ".")
            print(f"  {line['code']}  tỉnh {line['province_code']}  {vnd} đồng  {line['title']}")
        await msg.ack()
    await nc.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python docs/integrator_example.py nats://integrator:<password>@127.0.0.1:14222")
    asyncio.run(main(sys.argv[1]))
