"""Instance signing keys and the trust file, from a terminal: generate, rotate, revoke, show.

python -m kc_ops.keys ensure --instance bo --instance tinh-40 [--keys-dir var/keys]
python -m kc_ops.keys rotate --instance tinh-40
python -m kc_ops.keys revoke --instance tinh-40 --key-id ed25519:...
python -m kc_ops.keys show
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kc_contracts.integrity import TrustStore
from kc_runtime.keys import DEFAULT_KEYS_DIR, TRUST_FILE, MissingKeyError, ensure_instance_key, revoke, rotate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kc_ops.keys", description=__doc__.splitlines()[0])
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
