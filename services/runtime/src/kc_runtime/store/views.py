"""Read-model tables of a service, kept in its own database beside the tracking table.

A projection handler writes its rows and the tracking record of the message it consumed in one
transaction (:meth:`ViewStore.transaction` + :meth:`ViewStore.track`), so each message takes
effect exactly once whatever the redelivery. SQL is written once with ``?`` placeholders in the
subset SQLite and PostgreSQL share; on PostgreSQL the placeholders become ``%s`` and the service's
schema is the search path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.utils import Environment


class ViewCursor:
    """A DB-API cursor that speaks ``?`` placeholders on both databases and returns dict rows."""

    def __init__(self, raw: Any, postgres: bool) -> None:
        self.raw = raw
        self._postgres = postgres

    def execute(self, sql: str, params: Sequence[Any] = ()) -> ViewCursor:
        self.raw.execute(sql.replace("?", "%s") if self._postgres else sql, tuple(params))
        return self

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.raw.executemany(sql.replace("?", "%s") if self._postgres else sql, [tuple(r) for r in rows])

    def fetchone(self) -> dict[str, Any] | None:
        row = self.raw.fetchone()
        return None if row is None else dict(row)

    @property
    def _dbapi(self) -> Any:
        # eventsourcing's SQLite cursor wraps sqlite3's without fetchmany or rowcount: reach the real one
        return getattr(self.raw, "sqlite_cursor", self.raw)

    def fetchmany(self, size: int) -> list[dict[str, Any]]:
        return [dict(r) for r in self._dbapi.fetchmany(size)]

    def fetchall(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.raw.fetchall()]

    @property
    def rowcount(self) -> int:
        return int(self._dbapi.rowcount)


# What else to write in the transaction that records the next tracking (see ViewStore.with_tracking)
_WITH_TRACKING: ContextVar[list[Callable[[ViewStore, ViewCursor], bool]] | None] = ContextVar(
    "kc_with_tracking", default=None
)


class ViewStore:
    """The tracking recorder of a service's projections plus a transaction on the same database."""

    def __init__(self, env: Mapping[str, str], name: str, ddl: Sequence[str] = (), *, recorder: Any = None) -> None:
        self._factory: InfrastructureFactory[Any] | None = None
        if recorder is None:
            self._factory = InfrastructureFactory.construct(Environment(name=name, env=env))
            # a SQLiteTrackingRecorder or PostgresTrackingRecorder: both have .datastore and
            # ._insert_tracking(cursor, tracking), which the abstract TrackingRecorder type does not say
            recorder = self._factory.tracking_recorder()
        self.recorder: Any = recorder
        self.postgres = env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres"
        self._schema = env.get("POSTGRES_SCHEMA", "public")
        # which database (and schema) the rows are in: two stores at one location can share a transaction
        pg = ("POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DBNAME")
        self.location: tuple[str, ...] = (
            ("postgres", *(env.get(k, "") for k in pg), self._schema)
            if self.postgres
            else ("sqlite", env.get("SQLITE_DBNAME", ""))
        )
        with self.transaction() as cur:
            for statement in ddl:
                cur.execute(self.dialect(statement))

    @classmethod
    def sharing(cls, recorder: Any, env: Mapping[str, str], ddl: Sequence[str] = ()) -> ViewStore:
        """Tables beside an application's own events, written through its recorder (its tracking table
        included): the outbox relay keeps its chain head with its position this way."""
        return cls(env, name="", ddl=ddl, recorder=recorder)

    def dialect(self, ddl: str) -> str:
        """The few DDL words SQLite and PostgreSQL spell differently."""
        return ddl.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY") if self.postgres else ddl

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[ViewCursor]:
        datastore: Any = self.recorder.datastore
        with datastore.transaction(commit=commit) as raw:
            if self.postgres:
                raw.execute(f'SET LOCAL search_path TO "{self._schema}"')
            elif commit:
                # Take SQLite's write lock now (waiting under the busy timeout). A deferred transaction
                # that reads first and then writes fails at once if another connection wrote meanwhile.
                raw.execute("UPDATE tracking SET notification_id = notification_id WHERE 1 = 0")
            yield ViewCursor(raw, self.postgres)

    def primary_key(self, cur: ViewCursor, table: str) -> list[str] | None:
        """The primary-key columns of ``table`` in order (None: no such table)."""
        if self.postgres:
            rows = cur.execute(
                "SELECT k.column_name AS name FROM information_schema.table_constraints c"
                " JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name"
                " AND k.table_schema = c.table_schema AND k.table_name = c.table_name"
                " WHERE c.table_schema = current_schema() AND c.table_name = ? AND c.constraint_type = 'PRIMARY KEY'"
                " ORDER BY k.ordinal_position",
                (table,),
            ).fetchall()
            if rows:
                return [r["name"] for r in rows]
            found = cur.execute(
                "SELECT 1 AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
                (table,),
            ).fetchone()
            return [] if found else None
        info = cur.execute(f"PRAGMA table_info({table})").fetchall()
        if not info:
            return None
        return [r["name"] for r in sorted((r for r in info if r["pk"]), key=lambda r: r["pk"])]

    def rekey(self, table: str, ddl: str, key: Sequence[str]) -> bool:
        """Give ``table`` the primary key ``key`` if it has another, keeping its rows: ``ddl`` (with ``{t}`` for
        the table's name) creates it keyed so. Returns whether it changed. Records once keyed by their id
        alone are keyed by (instance, id) this way, in place, when a service starts."""
        with self.transaction() as cur:
            current = self.primary_key(cur, table)
            if current is None or current == list(key):
                return False
            fresh = f"{table}__rekeyed"
            cur.execute(f"DROP TABLE IF EXISTS {fresh}")
            cur.execute(self.dialect(ddl.format(t=fresh)))
            columns = [c for c in self.columns(cur, fresh)]
            names = ", ".join(columns)
            cur.execute(f"INSERT INTO {fresh} ({names}) SELECT {names} FROM {table}")
            cur.execute(f"DROP TABLE {table}")
            cur.execute(f"ALTER TABLE {fresh} RENAME TO {table}")
        return True

    def widen(self, table: str, ddl: str) -> list[str]:
        """Add to ``table`` the columns ``ddl`` (with ``{t}`` for the table's name) has and it lacks,
        empty (NULL), keeping its rows; returns the columns added. A view that gained a column this way
        shows the new figure from the events it applies next (a rebuild fills it for the past)."""
        with self.transaction() as cur:
            if self.primary_key(cur, table) is None:
                return []
            shape = f"{table}__shape"
            cur.execute(f"DROP TABLE IF EXISTS {shape}")
            cur.execute(self.dialect(ddl.format(t=shape)))
            wanted = self._typed_columns(cur, shape)
            cur.execute(f"DROP TABLE {shape}")
            have = set(self.columns(cur, table))
            added = [name for name in wanted if name not in have]
            for name in added:
                cur.execute(f"ALTER TABLE {table} ADD COLUMN {name} {wanted[name]}")
        return added

    def _typed_columns(self, cur: ViewCursor, table: str) -> dict[str, str]:
        if self.postgres:
            rows = cur.execute(
                "SELECT column_name AS name, data_type AS type FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                (table,),
            ).fetchall()
        else:
            rows = cur.execute(f"PRAGMA table_info({table})").fetchall()
        return {r["name"]: r["type"] for r in rows}

    def columns(self, cur: ViewCursor, table: str) -> list[str]:
        if self.postgres:
            rows = cur.execute(
                "SELECT column_name AS name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
                (table,),
            ).fetchall()
            return [r["name"] for r in rows]
        return [r["name"] for r in cur.execute(f"PRAGMA table_info({table})").fetchall()]

    def track(self, cursor: ViewCursor, tracking: Tracking) -> None:
        """Record, in the caller's transaction, that ``tracking`` was consumed.

        The view's rows and the tracking row must commit together (exactly once). The recorder's public
        ``insert_tracking(tracking)`` commits a transaction of its own, so it cannot. eventsourcing's own
        materialised views (its projection tutorial: a ``TrackingRecorder`` subclass) write their rows and
        call ``_insert_tracking(cursor, tracking)`` in one ``datastore.transaction``; this is that call,
        made from outside a subclass because a view store may also share an application's process
        recorder (the relay's chain head), which the application constructs. SQLite's and PostgreSQL's
        tracking and process recorders take the same arguments (9.4-9.5); the runtime's tests run it on
        both databases.

        Whatever :meth:`with_tracking` asked for in this context is written here too, in the same transaction
        (once, by the first ``track`` that can)."""
        self.recorder._insert_tracking(cursor.raw, tracking)
        pending = _WITH_TRACKING.get()
        if pending:
            for write in list(pending):
                if write(self, cursor):
                    pending.remove(write)

    @staticmethod
    @contextmanager
    def with_tracking(write: Callable[[ViewStore, ViewCursor], bool]) -> Iterator[list[Callable[..., bool]]]:
        """Within this context, the first :meth:`track` of a store ``write`` accepts (it returns True when it
        wrote, in that store's transaction, e.g. only for a store on its own database) also calls ``write``:
        what must commit with a tracking record commits with it. The yielded list is empty once it was written."""
        pending = [write]
        token = _WITH_TRACKING.set(pending)
        try:
            yield pending
        finally:
            _WITH_TRACKING.reset(token)

    @property
    def tracking_table(self) -> str:
        """The tracking table's name in SQL (SQLite fixes it; PostgreSQL names it after the store)."""
        return f'"{self.recorder.tracking_table_name}"' if self.postgres else "tracking"

    def has_tracked(self, tracking: Tracking) -> bool:
        return bool(self.recorder.has_tracking_id(tracking.application_name, tracking.notification_id))

    def sqlite_file(self) -> str | None:
        """The SQLite file the views are in (None on PostgreSQL)."""
        if self.postgres:
            return None
        return str(self.recorder.datastore.pool.db_name)

    def close(self) -> None:
        if self._factory is not None:  # a shared recorder is closed by its application
            self._factory.close()
