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
