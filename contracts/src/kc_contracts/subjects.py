"""Instances, subjects and stream names: the one place that knows how they are spelled.

Subjects: ``kc.<instance>.<service>.<aggregate>.<event>.v<N>``; an instance is ``bo`` (the ministry)
or ``tinh-<official province code>``. One JetStream stream per instance holds ``kc.<instance>.>``;
dead letters of an instance go to a separate stream under ``kcdlq.<instance>.>``.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from kc_contracts.base import ContractEvent

_INSTANCE = re.compile(r"^(bo|tinh-\d{2})$")


def check_instance(value: str) -> str:
    if not _INSTANCE.match(value):
        raise ValueError(
            f"mã instance không hợp lệ: {value!r} (phải là 'bo' hoặc 'tinh-<mã tỉnh 2 số>') / "
            "invalid instance id (expected 'bo' or 'tinh-<2-digit province code>')"
        )
    return value


Instance = Annotated[str, AfterValidator(check_instance)]


def subject_for(instance: str, event: type[ContractEvent] | ContractEvent) -> str:
    """``kc.tinh-40.registry.establishment.registered.v1``."""
    return subject_of(instance, event.type, event.version)


def subject_of(instance: str, type_: str, version: int) -> str:
    check_instance(instance)
    return f"kc.{instance}.{type_}.v{version}"


def parse_subject(subject: str) -> tuple[str, str, int]:
    """Inverse of :func:`subject_of`: (instance, type, version)."""
    parts = subject.split(".")
    if len(parts) != 6 or parts[0] != "kc" or not re.fullmatch(r"v\d+", parts[5]):
        raise ValueError(f"not a khuyencong event subject: {subject!r}")
    return parts[1], ".".join(parts[2:5]), int(parts[5][1:])


def instance_subjects(instance: str) -> str:
    return f"kc.{check_instance(instance)}.>"


def stream_name(instance: str) -> str:
    """``KC_TINH_40`` for ``tinh-40``, ``KC_BO`` for ``bo``."""
    return "KC_" + check_instance(instance).replace("-", "_").upper()


def dead_letter_subject(instance: str, consumer: str) -> str:
    return f"kcdlq.{check_instance(instance)}.{consumer}"


def dead_letter_stream(instance: str) -> str:
    return "KCDLQ_" + check_instance(instance).replace("-", "_").upper()


def dead_letter_subjects(instance: str) -> str:
    return f"kcdlq.{check_instance(instance)}.>"
