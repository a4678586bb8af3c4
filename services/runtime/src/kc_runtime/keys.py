"""Instance signing keys and the trust file: generate, rotate, revoke, show.

An instance's private key lives in ``<keys dir>/<instance>.key`` (JSON, mode 0600) and never leaves
the instance. The trust file (``<keys dir>/trust.json`` by default) lists the *public* keys of every
instance this one trusts; it is configuration, distributed to every instance (and to auditors).
``make run`` creates missing keys for the instances it starts; production generates each instance's
key on its own machine and distributes only the public part.

    python -m kc_ops.keys ensure --instance bo --instance tinh-40 [--keys-dir var/keys]
    python -m kc_ops.keys rotate --instance tinh-40
    python -m kc_ops.keys revoke --instance tinh-40 --key-id ed25519:...
    python -m kc_ops.keys show
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kc_contracts.integrity import Signer, TrustedKey, TrustStore
from kc_contracts.subjects import check_instance

DEFAULT_KEYS_DIR = Path("var/keys")
TRUST_FILE = "trust.json"


class MissingKeyError(Exception):
    pass


def key_file(keys_dir: Path, instance: str) -> Path:
    return keys_dir / f"{instance}.key"


def load_signer(path: Path, instance: str) -> Signer:
    if not path.exists():
        raise MissingKeyError(
            f"no signing key for {instance} at {path} (run: python -m kc_ops.keys ensure --instance {instance})"
        )
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("instance") != instance:
        raise MissingKeyError(f"{path} is the key of {doc.get('instance')!r}, not of {instance!r}")
    return Signer.from_b64(instance, str(doc["private_key"]))


def _write_private(path: Path, signer: Signer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "instance": signer.instance,
        "key_id": signer.key_id,
        "created": datetime.now(UTC).isoformat(),
        "private_key": signer.private_b64(),
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    tmp.replace(path)


def ensure_instance_key(keys_dir: Path, instance: str, trust_file: Path | None = None) -> Signer:
    """The instance's key, generated (and its public half added to the trust file) when missing."""
    check_instance(instance)
    trust_path = trust_file or keys_dir / TRUST_FILE
    path = key_file(keys_dir, instance)
    if path.exists():
        signer = load_signer(path, instance)
    else:
        signer = Signer.generate(instance)
        _write_private(path, signer)
    trust = TrustStore.load(trust_path)
    if trust.find(instance, signer.key_id) is None:
        trust.add(TrustedKey(instance, signer.key_id, signer.private_key.public_key()))
        trust.save(trust_path)
    return signer


class TrustFile:
    """The trust file, re-read when it changes: a peer's rotated key is trusted once distributed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self.store = TrustStore()
        self.reload()

    def reload(self) -> bool:
        """Re-read the file if it changed (a stat per call: revocations apply at once)."""
        try:
            st = self.path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return False
        self.store, self._stamp = TrustStore.load(self.path), stamp
        return True

    def verify(self, body: Mapping[str, Any]) -> None:
        self.reload()
        self.store.verify(body)

    def admit(self, body: Mapping[str, Any]) -> None:
        self.reload()
        self.store.admit(body)


def rotate(keys_dir: Path, instance: str, trust_file: Path | None = None) -> tuple[str, str]:
    """A new key for ``instance``; the old one stays trusted for what it signed until now."""
    trust_path = trust_file or keys_dir / TRUST_FILE
    old = load_signer(key_file(keys_dir, instance), instance)
    new = Signer.generate(instance)
    trust = TrustStore.load(trust_path)
    trust.retire(instance, old.key_id, datetime.now(UTC))
    trust.add(TrustedKey(instance, new.key_id, new.private_key.public_key()))
    trust.save(trust_path)
    _write_private(key_file(keys_dir, instance), new)
    return old.key_id, new.key_id


def revoke(keys_dir: Path, instance: str, kid: str, trust_file: Path | None = None) -> None:
    trust_path = trust_file or keys_dir / TRUST_FILE
    trust = TrustStore.load(trust_path)
    key = trust.find(instance, kid)
    if key is None:
        raise MissingKeyError(f"{kid} is not a key of {instance}")
    trust.keys[instance] = [
        TrustedKey(k.instance, k.key_id, k.public_key, k.valid_until, True) if k.key_id == kid else k
        for k in trust.keys[instance]
    ]
    trust.save(trust_path)
