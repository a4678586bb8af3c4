"""Where things are: the run file ``make run`` writes, the keys folder, the trust file, an instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kc_contracts.integrity import (
    TrustStore,
)
from kc_contracts.subjects import check_instance
from kc_runtime.bus.streamaudit import (
    AuditError,
)


def read_run_file(run_file: Path) -> dict[str, Any]:
    try:
        doc = json.loads(run_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AuditError(f"không đọc được {run_file}: chạy `make run` trước / run `make run` first ({exc})") from exc
    if not isinstance(doc, dict):
        raise AuditError(f"{run_file} không phải tệp make run / is not a run file")
    return doc


def keys_dir_of(keys_dir: Path | None, run_file: Path) -> Path:
    return keys_dir or run_file.parent / "keys"


def auditor_token(keys_dir: Path, *, sub: str, name: str) -> str:
    """A read-only national auditor's token (role ``kiem_toan``) signed with the ministry's key found in
    ``keys_dir`` (beside a local ``make run``: ``var/keys``)."""
    from kc_runtime.keys import MissingKeyError, key_file, load_signer
    from kc_runtime.web.auth import issue_token

    try:
        signer = load_signer(key_file(keys_dir, "bo"), "bo")
    except (MissingKeyError, OSError, ValueError, KeyError) as exc:
        raise AuditError(
            f"cần mã truy cập (--token hoặc KC_TOKEN) / a token is needed: no ministry key in {keys_dir}"
        ) from exc
    return issue_token(signer, sub=sub, role="kiem_toan", name=name)


def load_trust(path: Path) -> TrustStore:
    if not path.is_file():
        raise AuditError(f"không tìm thấy tệp tin cậy / trust file not found: {path} (--trust)")
    try:
        return TrustStore.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"tệp tin cậy hỏng / bad trust file {path}: {exc}") from exc


def checked_instance(instance: str) -> str:
    try:
        return check_instance(instance)
    except ValueError as exc:
        raise AuditError(str(exc)) from exc
