"""The CloudEvents 1.0 envelope (structured JSON mode) every khuyencong event travels in.

Extension attributes (lower-case, as CloudEvents requires):

- ``kcinstance``: the publishing instance (``bo``, ``tinh-40`` ...)
- ``kcstreamid`` / ``kcstreamversion``: the originating event stream (aggregate id) and the event's
  version in it; together with the instance they make the event id (the ``Nats-Msg-Id`` is the hash
  of the published bytes instead: :func:`kc_contracts.integrity.message_id`)
- ``correlationid`` / ``causationid``: the conversation and the message that caused this one
- ``kcversions``: the contract versions the event is published in, comma-separated (``1,2``), when more
  than one — during a migration to a new version each event goes out once per version, and a reader takes
  it from the copy in the oldest of them it knows (:meth:`Envelope.published_versions`,
  :meth:`~kc_contracts.base.ContractRegistry.takes`); absent: only this envelope's version
- ``traceparent`` / ``tracestate``: W3C trace context (the CloudEvents distributed-tracing extension):
  the span that saved the event, so a trace follows a command from an HTTP request across services
- ``kcseq`` / ``kcprevhash`` / ``kcsig`` / ``kckeyid``: integrity (position in the publisher's
  chain, hash of its previous envelope, Ed25519 signature, signing key id), filled in when the
  instance signs what it publishes: see :mod:`kc_contracts.integrity`
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from kc_contracts.base import ContractEvent, ContractRegistry, registry
from kc_contracts.integrity import canonical

TYPE_PREFIX = "kc."
SCHEMA_URN = "urn:khuyencong:schema:"


def event_id(instance: str, stream_id: UUID | str, stream_version: int) -> str:
    """Stable identity of one event: ``<instance>:<originator id>:<version>``.

    Used as the CloudEvents ``id`` and the webhook id, so a republish is recognised as the same event
    everywhere. Not the JetStream ``Nats-Msg-Id``: anyone can compute this one in advance.
    """
    return f"{instance}:{stream_id}:{stream_version}"


def envelope_type(type_: str, version: int) -> str:
    return f"{TYPE_PREFIX}{type_}.v{version}"


def parse_envelope_type(value: str) -> tuple[str, int]:
    if not value.startswith(TYPE_PREFIX) or ".v" not in value:
        raise ValueError(f"not a khuyencong event type: {value!r}")
    type_, _, version = value[len(TYPE_PREFIX) :].rpartition(".v")
    if not version.isdigit():
        raise ValueError(f"not a khuyencong event type: {value!r}")
    return type_, int(version)


class Envelope(BaseModel):
    """A CloudEvents 1.0 structured-mode event with khuyencong's extension attributes."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    data: dict[str, Any]

    kcinstance: str
    kcstreamid: str
    kcstreamversion: int = Field(ge=1)
    correlationid: str | None = None
    causationid: str | None = None
    traceparent: str | None = Field(
        default=None, max_length=256, description="W3C traceparent of the span that caused this event"
    )
    tracestate: str | None = Field(default=None, max_length=512, description="W3C tracestate, passed on unchanged")
    kcversions: str | None = Field(
        default=None,
        pattern=r"^[1-9][0-9]{0,3}(,[1-9][0-9]{0,3}){1,7}$",
        description="the contract versions this event is published in, when more than one (a migration)",
    )
    kcseq: int | None = None
    kcprevhash: str | None = None
    kcsig: str | None = None
    kckeyid: str | None = None

    @classmethod
    def wrap(
        cls,
        event: ContractEvent,
        *,
        instance: str,
        service: str,
        stream_id: UUID | str,
        stream_version: int,
        time: datetime,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        versions: Sequence[int] | None = None,
    ) -> Envelope:
        """``versions``: every version the event is published in, when it goes out in more than one."""
        eid = event_id(instance, stream_id, stream_version)
        published = sorted({event.version, *(versions or ())})
        return cls(
            id=eid,
            source=f"/kc/{instance}/{service}",
            type=envelope_type(event.type, event.version),
            subject=str(stream_id),
            time=time.astimezone(UTC),
            dataschema=f"{SCHEMA_URN}{event.schema_name()}",
            data=event.model_dump(mode="json"),
            kcinstance=instance,
            kcstreamid=str(stream_id),
            kcstreamversion=stream_version,
            correlationid=correlation_id or eid,
            causationid=causation_id or eid,
            traceparent=traceparent,
            tracestate=tracestate,
            kcversions=",".join(map(str, published)) if len(published) > 1 else None,
        )

    @property
    def contract_key(self) -> tuple[str, int]:
        return parse_envelope_type(self.type)

    def published_versions(self) -> tuple[int, ...]:
        """The versions of its contract this event is published in (this envelope's, and ``kcversions``)."""
        own = self.contract_key[1]
        listed = {int(v) for v in self.kcversions.split(",")} if self.kcversions else set()
        return tuple(sorted(listed | {own}))

    def body(self) -> dict[str, Any]:
        """The envelope as a JSON object, absent optionals left out."""
        return self.model_dump(mode="json", exclude_none=True)

    def to_json(self) -> bytes:
        """Canonical JSON bytes: sorted keys, no whitespace, UTF-8, absent optionals left out."""
        return canonical(self.body())

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        return cls.model_validate_json(raw)

    def decode(self, contracts: ContractRegistry = registry, *, to: int | None = None) -> ContractEvent:
        """The contract event inside, upcast to ``to`` (default: the newest version known here)."""
        type_, version = self.contract_key
        return contracts.decode(type_, version, self.data, to=to)
