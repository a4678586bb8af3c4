"""The JetStream streams, declared in this one place and applied by an explicit command.

One stream per instance (``KC_TINH_40`` <- ``kc.tinh-40.>``), file storage, no age limit (the bus
log is kept for audit replay), and a dead-letter stream per instance. Services never declare or
reconfigure streams on start; ``python -m kc_ops.streams ensure`` (run by ``make run``, the test
fixtures and operators) creates what is missing and reports what it changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import nats.js.errors as jserr
from kc_contracts.subjects import (
    check_instance,
    dead_letter_stream,
    dead_letter_subjects,
    instance_subjects,
    stream_name,
)
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig

# A relay that crashed between the ack and storing its position republishes on restart; a day of
# message ids lets JetStream drop those copies even after a long outage.
DUPLICATE_WINDOW_S = 24 * 3600.0


@dataclass(frozen=True)
class StreamPlan:
    instances: tuple[str, ...]
    replicas: int = 1

    def configs(self) -> list[StreamConfig]:
        out = []
        for instance in self.instances:
            check_instance(instance)
            out.append(
                self._stream(
                    stream_name(instance), instance_subjects(instance), f"khuyencong events of instance {instance}"
                )
            )
            out.append(
                self._stream(
                    dead_letter_stream(instance),
                    dead_letter_subjects(instance),
                    f"dead letters of instance {instance}: original bytes + reason",
                )
            )
        return out

    def _stream(self, name: str, subjects: str, description: str) -> StreamConfig:
        return StreamConfig(
            name=name,
            description=description,
            subjects=[subjects],
            storage=StorageType.FILE,  # no max_age: the bus log is kept for audit replay
            num_replicas=self.replicas,
            duplicate_window=DUPLICATE_WINDOW_S,
        )


_COMPARED = (
    "subjects",
    "storage",
    "num_replicas",
    "duplicate_window",
    "max_age",
    "max_msgs",
    "max_bytes",
)


async def ensure_streams(js: JetStreamContext, plan: StreamPlan) -> list[str]:
    """Create missing streams, bring drifted ones back to the plan; one report line per stream."""
    report = []
    for wanted in plan.configs():
        try:
            info = await js.stream_info(wanted.name or "")
        except jserr.NotFoundError:
            await js.add_stream(wanted)
            report.append(f"created {wanted.name} {wanted.subjects}")
            continue
        current = info.config
        changed = [
            f"{field}: {getattr(current, field)} -> {getattr(wanted, field)}"
            for field in _COMPARED
            if getattr(wanted, field) is not None and _norm(getattr(current, field)) != _norm(getattr(wanted, field))
        ]
        if changed:
            await js.update_stream(wanted)
            report.append(f"updated {wanted.name}: " + "; ".join(changed))
        else:
            report.append(f"unchanged {wanted.name}")
    return report


def _norm(value: object) -> object:
    if isinstance(value, float):
        return round(value, 3)
    return value
