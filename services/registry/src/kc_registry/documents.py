"""The local content-addressed store of legal-dossier documents (hồ sơ pháp lý).

Bytes are stored under their SHA-256 in this instance's var directory and never leave it: events
carry the hash, size and kind only. File names are not kept at all.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from kc_registry.domain.errors import DocumentError

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


class DocumentStore:
    def __init__(self, root: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store the bytes (idempotent) and return their SHA-256."""
        if not data:
            raise DocumentError("Tệp rỗng / the file is empty", field="file")
        if len(data) > self.max_bytes:
            raise DocumentError(
                f"Tệp quá lớn: tối đa {self.max_bytes // (1024 * 1024)} MB / the file is too large",
                field="file",
            )
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # write-then-rename: a crash never leaves a half file under a valid hash
            fd, tmp = tempfile.mkstemp(dir=path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            Path(tmp).replace(path)
        return digest

    def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        if len(sha256) != 64 or not path.exists():
            raise DocumentError("Không có tài liệu này / no such document", field="sha256")
        return path.read_bytes()
