"""Issue a signed access token (``python -m kc_ops.tokens issue``) or list the roles (``roles``).

python -m kc_ops.tokens issue --instance tinh-40 --role so_ct --sub nguyen.van.a --name "Nguyễn Văn A"
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from kc_contracts.subjects import check_instance
from kc_runtime.keys import DEFAULT_KEYS_DIR, MissingKeyError, key_file, load_signer
from kc_runtime.web.auth import DEFAULT_TTL, ROLES, issue_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kc_ops.tokens", description="Cấp mã truy cập / issue a token")
    parser.add_argument("command", choices=["issue", "roles"])
    parser.add_argument("--instance", help="issuing instance (its key signs the token)")
    parser.add_argument("--keys-dir", type=Path, default=DEFAULT_KEYS_DIR)
    parser.add_argument("--role")
    parser.add_argument("--scope", help="bo | tinh-<code>; default: the issuing instance")
    parser.add_argument("--sub", help="who: an account name")
    parser.add_argument("--name", help="display name (in event histories)")
    parser.add_argument("--unit", help="don_vi: the implementing unit's key (its name folded: trung-tam-khuyen-cong)")
    parser.add_argument("--hours", type=float, default=DEFAULT_TTL.total_seconds() / 3600)
    args = parser.parse_args(argv)
    if args.command == "roles":
        for role in ROLES.values():
            print(
                f"{role.name}\t{'bo' if role.national else 'tinh'}\t{','.join(sorted(role.permissions))}\t{role.label}"
            )
        return 0
    try:
        if not (args.instance and args.role and args.sub):
            raise ValueError("issue needs --instance, --role and --sub")
        signer = load_signer(key_file(args.keys_dir, args.instance), check_instance(args.instance))
        print(
            issue_token(
                signer,
                sub=args.sub,
                role=args.role,
                scope=args.scope,
                name=args.name,
                ttl=timedelta(hours=args.hours),
                unit=args.unit,
            )
        )
    except (ValueError, OSError, MissingKeyError) as exc:
        print(f"lỗi / error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
