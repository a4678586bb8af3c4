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
from kc_contracts.envelope import envelope_type

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


def misplaced(*, instance: str, source: str, type_: str, subject: str, stream: str) -> str | None:
    """Why an envelope is not where it belongs, or None: the instance it names (``kcinstance``) must own
    the subject it arrived on (``kc.<instance>.…``) and the stream it was read from (``KC_<INSTANCE>``),
    its ``source`` must be a service of that instance and the subject must name its type.

    Signatures say who published an envelope, not where: a validly signed event of one instance replayed
    under another's subject would otherwise count for the instance whose subject it took.
    """
    try:
        owner, subject_type, version = parse_subject(subject)
    except ValueError:
        return f"subject {subject!r} is not an event subject"
    if instance != owner:
        return f"an event of {instance!r} on {subject}, a subject of {owner!r}"
    if _INSTANCE.match(owner) is None or stream != stream_name(owner):
        return f"an event of {instance!r} read from stream {stream}, not {owner!r}'s"
    if not source.startswith(f"/kc/{instance}/"):
        return f"source {source!r} is not a service of {instance!r}"
    if type_ != envelope_type(subject_type, version):
        return f"type {type_!r} does not match its subject {subject}"
    return None
