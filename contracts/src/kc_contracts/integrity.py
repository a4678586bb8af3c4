"""Integrity of what an instance publishes: Ed25519 signatures and a hash chain per publisher.

Every envelope a service publishes carries four extension attributes:

- ``kcseq``: its position in the publisher's chain (1, 2, 3 ... per ``source``, i.e. per service
  of an instance: ``/kc/tinh-40/appraisal``);
- ``kcprevhash``: the :func:`envelope_hash` of the publisher's previous envelope (absent for the first);
- ``kckeyid``: the id of the instance key that signed it (:func:`key_id`);
- ``kcsig``: the Ed25519 signature (base64url, no padding) of the envelope's canonical JSON
  *without* ``kcsig``.

Canonical JSON is the envelope as a JSON object with sorted keys, no whitespace, UTF-8 (not
ASCII-escaped). Verification works on the received bytes parsed as JSON, so it does not depend on
this package knowing every field: an integrator with only this module can verify what it receives.

A consumer that sees every envelope of a publisher can check the whole chain with
:class:`ChainCheck`; one that reads a filtered subset still refuses replays (``kcseq`` not
increasing) and checks each link it does see. ``kc audit verify`` checks every link.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SIG_FIELDS = ("kcseq", "kcprevhash", "kckeyid", "kcsig")


class IntegrityError(Exception):
    """An envelope that must not be trusted; ``reason`` is a stable short code, the message explains."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def envelope_hash(body: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of the whole (signed) envelope."""
    return "sha256:" + hashlib.sha256(canonical(body)).hexdigest()


def message_id(payload: bytes) -> str:
    """The JetStream ``Nats-Msg-Id`` of a published envelope: ``sha256:<hex>`` of its exact bytes (for the
    canonical bytes a relay publishes, its :func:`envelope_hash`, which the next envelope's ``kcprevhash``
    repeats). Stable across republishes of the same event (a relay republishes the very same bytes), and
    unclaimable by anyone who cannot produce those signed bytes: a predictable id such as
    ``<instance>:<aggregate id>:<version>`` let another publisher take it first and JetStream then dropped
    the real event as a duplicate."""
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A key's fingerprint: ``ed25519:`` + the first 16 hex digits of SHA-256 of its raw bytes."""
    return "ed25519:" + hashlib.sha256(public_bytes(key)).hexdigest()[:16]


@dataclass(frozen=True)
class Signer:
    """An instance's current signing key."""

    instance: str
    private_key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id(self.private_key.public_key())

    def sign(self, body: Mapping[str, Any], *, seq: int, prev_hash: str | None) -> dict[str, Any]:
        """The envelope with its chain position, previous hash, key id and signature filled in."""
        signed = {k: v for k, v in body.items() if k not in SIG_FIELDS and v is not None}
        signed["kcseq"] = seq
        signed["kckeyid"] = self.key_id
        if prev_hash is not None:
            signed["kcprevhash"] = prev_hash
        signed["kcsig"] = _b64(self.private_key.sign(canonical(signed)))
        return signed

    def sign_bytes(self, payload: bytes) -> str:
        return _b64(self.private_key.sign(payload))

    @classmethod
    def generate(cls, instance: str) -> Signer:
        return cls(instance, Ed25519PrivateKey.generate())

    def private_b64(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        return _b64(self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @classmethod
    def from_b64(cls, instance: str, text: str) -> Signer:
        return cls(instance, Ed25519PrivateKey.from_private_bytes(_unb64(text)))


@dataclass(frozen=True)
class TrustedKey:
    instance: str
    key_id: str
    public_key: Ed25519PublicKey
    valid_until: datetime | None = None  # retired by a rotation: envelopes dated later are refused
    revoked: bool = False  # compromised: nothing it signed is trusted

    def to_record(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "public_key": _b64(public_bytes(self.public_key)),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "revoked": self.revoked,
        }

    @classmethod
    def from_record(cls, instance: str, record: Mapping[str, Any]) -> TrustedKey:
        public = Ed25519PublicKey.from_public_bytes(_unb64(str(record["public_key"])))
        until = record.get("valid_until")
        key = cls(
            instance=instance,
            key_id=key_id(public),
            public_key=public,
            valid_until=datetime.fromisoformat(str(until)) if until else None,
            revoked=bool(record.get("revoked", False)),
        )
        if record.get("key_id") not in (None, key.key_id):
            raise ValueError(f"trust: key id {record.get('key_id')} does not match its public key ({key.key_id})")
        return key


@dataclass
class TrustStore:
    """Instance public keys (configuration): ``{"instances": {"tinh-40": [{"key_id", "public_key",
    "valid_until", "revoked"}, ...]}}``."""

    keys: dict[str, list[TrustedKey]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> TrustStore:
        if not path.exists():
            return cls()
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TrustStore:
        instances = doc.get("instances", {})
        return cls({inst: [TrustedKey.from_record(inst, r) for r in recs] for inst, recs in instances.items()})

    def to_json(self) -> dict[str, Any]:
        return {"instances": {inst: [k.to_record() for k in keys] for inst, keys in sorted(self.keys.items())}}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    def add(self, key: TrustedKey) -> None:
        existing = self.keys.setdefault(key.instance, [])
        if all(k.key_id != key.key_id for k in existing):
            existing.append(key)

    def retire(self, instance: str, key_id_: str, at: datetime) -> None:
        self.keys[instance] = [
            TrustedKey(k.instance, k.key_id, k.public_key, at, k.revoked) if k.key_id == key_id_ else k
            for k in self.keys.get(instance, [])
        ]

    def find(self, instance: str, key_id_: str) -> TrustedKey | None:
        return next((k for k in self.keys.get(instance, []) if k.key_id == key_id_), None)

    def fingerprints(self) -> dict[str, list[str]]:
        return {inst: [k.key_id for k in keys] for inst, keys in sorted(self.keys.items())}

    def verify(self, body: Mapping[str, Any]) -> None:
        """Raise :class:`IntegrityError` unless ``body`` is signed by a trusted key of its own instance."""
        key = self._signing_key(body)
        unsigned = {k: v for k, v in body.items() if k != "kcsig"}
        try:
            key.public_key.verify(_unb64(str(body["kcsig"])), canonical(unsigned))
        except (InvalidSignature, ValueError) as exc:
            raise IntegrityError(
                "bad_signature", f"signature of {body.get('id')} does not verify with {key.key_id}"
            ) from exc
        self._in_validity(body, key)

    def admit(self, body: Mapping[str, Any]) -> None:
        """Every check of :meth:`verify` but the signature itself: for an envelope whose bytes are
        already authenticated by a hash link from a verified successor in the same chain."""
        self._in_validity(body, self._signing_key(body))

    def _signing_key(self, body: Mapping[str, Any]) -> TrustedKey:
        instance = str(body.get("kcinstance", ""))
        sig = body.get("kcsig")
        kid = body.get("kckeyid")
        if not sig or not kid:
            raise IntegrityError("unsigned", f"envelope {body.get('id')} carries no signature")
        key = self.find(instance, str(kid))
        if key is None:
            raise IntegrityError("unknown_key", f"key {kid} is not a trusted key of instance {instance!r}")
        if key.revoked:
            raise IntegrityError("revoked_key", f"key {kid} of {instance} is revoked")
        return key

    @staticmethod
    def _in_validity(body: Mapping[str, Any], key: TrustedKey) -> None:
        instance, kid = key.instance, key.key_id
        if key.valid_until is not None:
            when = _parse_time(body.get("time"))
            if when is None or when > key.valid_until:
                raise IntegrityError(
                    "retired_key", f"key {kid} of {instance} was retired at {key.valid_until.isoformat()}"
                )

    def verify_bytes(self, instance: str, payload: bytes, signature: str, kid: str) -> TrustedKey:
        """Verify a detached signature (tokens, bundle manifests) made by ``instance``'s key ``kid``."""
        key = self.find(instance, kid)
        if key is None or key.revoked:
            raise IntegrityError("unknown_key", f"key {kid} is not a trusted key of instance {instance!r}")
        try:
            key.public_key.verify(_unb64(signature), payload)
        except (InvalidSignature, ValueError) as exc:
            raise IntegrityError("bad_signature", f"signature does not verify with {kid}") from exc
        return key


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Link:
    """The last envelope seen from one publisher (``source``)."""

    seq: int
    hash: str


class ChainCheck:
    """Follows publishers' chains: each envelope must continue its ``source``'s chain.

    ``complete=True`` (an auditor reading every envelope): the first must be ``kcseq`` 1 and no
    number may be skipped. ``complete=False`` (a consumer reading a filtered subset): numbers must
    increase, and where they are consecutive the previous hash must match.
    """

    def __init__(self, complete: bool, heads: Mapping[str, Link] | None = None) -> None:
        self.complete = complete
        self.heads: dict[str, Link] = dict(heads or {})

    def check(self, body: Mapping[str, Any]) -> Link:
        """Raise :class:`IntegrityError` if ``body`` breaks its chain; else return its new link (not yet
        recorded: call :meth:`advance` once the envelope is accepted)."""
        source = str(body.get("source", ""))
        seq = body.get("kcseq")
        if not isinstance(seq, int) or seq < 1:
            raise IntegrityError("no_chain", f"envelope {body.get('id')} carries no chain position")
        prev = body.get("kcprevhash")
        head = self.heads.get(source)
        if head is None:
            if self.complete and (seq != 1 or prev is not None):
                raise IntegrityError("broken_chain", f"{source}: the chain starts at #{seq}, not #1")
        elif seq <= head.seq:
            raise IntegrityError(
                "replayed", f"{source}: #{seq} ({body.get('id')}) comes after #{head.seq}: replayed or reordered"
            )
        elif seq == head.seq + 1:
            if head.hash and prev != head.hash:  # an empty hash: the previous one failed its own check
                raise IntegrityError(
                    "broken_chain", f"{source}: #{seq} ({body.get('id')}) does not link to #{head.seq}"
                )
        elif self.complete:
            raise IntegrityError("broken_chain", f"{source}: #{head.seq + 1}..#{seq - 1} are missing")
        return Link(seq, envelope_hash(body))

    def advance(self, body: Mapping[str, Any], link: Link) -> None:
        self.heads[str(body.get("source", ""))] = link

    def skip(self, body: Mapping[str, Any]) -> None:
        """Step over an envelope refused for another reason, so its successor is not blamed for it."""
        seq = body.get("kcseq")
        if isinstance(seq, int):
            self.heads[str(body.get("source", ""))] = Link(seq, "")


def verify_stream(bodies: Iterable[Mapping[str, Any]], trust: TrustStore) -> Iterable[IntegrityError | None]:
    """Verify signatures and every chain link of a complete stream, one result per envelope."""
    chains = ChainCheck(complete=True)
    for body in bodies:
        try:
            trust.verify(body)
        except IntegrityError as exc:
            chains.skip(body)
            yield exc
            continue
        try:
            link = chains.check(body)
        except IntegrityError as exc:
            chains.skip(body)
            yield exc
            continue
        chains.advance(body, link)
        yield None
