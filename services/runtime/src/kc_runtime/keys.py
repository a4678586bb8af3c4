"""Instance signing keys and the trust file: generate, rotate, revoke, show.

An instance's private key lives in ``<keys dir>/<instance>.key`` (JSON, mode 0600) and never leaves
the instance. The trust file (``<keys dir>/trust.json`` by default) lists the *public* keys of every
instance this one trusts; it is configuration, distributed to every instance (and to auditors).
``make run`` creates missing keys for the instances it starts; production generates each instance's
key on its own machine and distributes only the public part.

    python -m kc_runtime.keys ensure --instance bo --instance tinh-40 [--keys-dir var/keys]
    python -m kc_runtime.keys rotate --instance tinh-40
    python -m kc_runtime.keys revoke --instance tinh-40 --key-id ed25519:...
    python -m kc_runtime.keys show
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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
            f"no signing key for {instance} at {path} (run: python -m kc_runtime.keys ensure --instance {instance})"
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kc_runtime.keys", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["ensure", "rotate", "revoke", "show"])
    parser.add_argument("--keys-dir", type=Path, default=DEFAULT_KEYS_DIR)
    parser.add_argument("--trust-file", type=Path)
    parser.add_argument("--instance", action="append", default=[])
    parser.add_argument("--key-id")
    args = parser.parse_args(argv)
    try:
        if args.command == "ensure":
            for instance in args.instance:
                signer = ensure_instance_key(args.keys_dir, instance, args.trust_file)
                print(f"{instance}: {signer.key_id}")
        elif args.command == "rotate":
            for instance in args.instance:
                old, new = rotate(args.keys_dir, instance, args.trust_file)
                print(f"{instance}: {old} -> {new} (the old key stays trusted for what it signed)")
        elif args.command == "revoke":
            if len(args.instance) != 1 or not args.key_id:
                raise MissingKeyError("revoke needs one --instance and --key-id")
            revoke(args.keys_dir, args.instance[0], args.key_id, args.trust_file)
            print(f"{args.instance[0]}: {args.key_id} revoked")
        else:
            trust = TrustStore.load(args.trust_file or args.keys_dir / TRUST_FILE)
            for instance, keys in sorted(trust.keys.items()):
                for k in keys:
                    retired = f"retired {k.valid_until:%Y-%m-%d %H:%M}" if k.valid_until else "current"
                    state = "revoked" if k.revoked else retired
                    print(f"{instance}\t{k.key_id}\t{state}")
    except (MissingKeyError, ValueError, OSError) as exc:
        print(f"lỗi / error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
