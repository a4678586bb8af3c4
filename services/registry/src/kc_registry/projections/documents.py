"""The legal dossier documents of every establishment of the instance, by status: the officers' queue of
documents to verify (``GET /documents?status=cho_xac_minh``), oldest first, without reading each
establishment. Metadata only: the bytes stay in the document store.

Its own projection (tracked apart from the establishments list), so on a store that had documents
before it existed it starts from the first event and catches up with all of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kc_runtime.store.views import ViewCursor, ViewStore

from kc_registry.domain.establishment import DocumentStatus, Establishment

DDL = [
    """CREATE TABLE IF NOT EXISTS dossier_documents (
        establishment_id TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        kind TEXT NOT NULL,
        size_bytes BIGINT NOT NULL,
        media_type TEXT NOT NULL,
        status TEXT NOT NULL,
        attached_at TEXT NOT NULL,
        attached_by TEXT NOT NULL,
        decided_at TEXT,
        decided_by TEXT,
        note TEXT,
        PRIMARY KEY (establishment_id, sha256)
    )""",
    "CREATE INDEX IF NOT EXISTS dossier_documents_status ON dossier_documents (status, attached_at)",
]


def apply(cur: ViewCursor, e: Any) -> None:
    """Fold one domain event of the registry into the table (inside the tracking transaction)."""
    eid = str(e.originator_id)
    if isinstance(e, Establishment.DocumentAttached):
        cur.execute(
            "INSERT INTO dossier_documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
            (
                eid,
                e.sha256,
                e.kind,
                e.size_bytes,
                e.media_type,
                DocumentStatus.pending.value,
                e.timestamp.isoformat(),
                e.actor,
            ),
        )
    elif isinstance(e, Establishment.DocumentVerified):
        _decided(cur, eid, e, DocumentStatus.verified, e.note)
    elif isinstance(e, Establishment.DocumentRejected):
        _decided(cur, eid, e, DocumentStatus.rejected, e.reason)


def _decided(cur: ViewCursor, eid: str, e: Any, status: DocumentStatus, note: str | None) -> None:
    cur.execute(
        "UPDATE dossier_documents SET status = ?, decided_at = ?, decided_by = ?, note = ?"
        " WHERE establishment_id = ? AND sha256 = ?",
        (status.value, e.timestamp.isoformat(), e.actor, note, eid, e.sha256),
    )


@dataclass(frozen=True)
class DocumentQuery:
    status: str | None = None
    limit: int = 50
    offset: int = 0


class DocumentsView:
    """Reads the table beside the establishments list (same store: each document with its establishment's name)."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def search(self, query: DocumentQuery) -> tuple[int, list[dict[str, Any]]]:
        where, params = "1 = 1", []
        if query.status:
            where, params = "d.status = ?", [query.status]
        with self.store.transaction(commit=False) as cur:
            total = cur.execute(f"SELECT COUNT(*) AS n FROM dossier_documents d WHERE {where}", params).fetchone()
            rows = cur.execute(
                "SELECT d.*, e.name AS establishment FROM dossier_documents d"
                " LEFT JOIN establishments e ON e.establishment_id = d.establishment_id"
                f" WHERE {where} ORDER BY d.attached_at, d.establishment_id, d.sha256 LIMIT ? OFFSET ?",
                [*params, query.limit, query.offset],
            ).fetchall()
        return (int(total["n"]) if total else 0), [dict(r) for r in rows]
