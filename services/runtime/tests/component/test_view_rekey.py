"""A view table once keyed by an id alone is re-keyed by (id, instance) in place, its rows kept (SQLite and
PostgreSQL): records of two instances with one id then stand side by side instead of one overwriting the other."""

from __future__ import annotations

from kc_runtime.store.eventstore import persistence_env
from kc_runtime.store.views import ViewStore
from kc_testing.fixtures import SettingsFactory

OLD = "CREATE TABLE IF NOT EXISTS copies (record_id TEXT PRIMARY KEY, instance TEXT NOT NULL, facts TEXT NOT NULL)"
NEW = (
    "CREATE TABLE IF NOT EXISTS {t} (record_id TEXT NOT NULL, instance TEXT NOT NULL, facts TEXT NOT NULL,"
    " PRIMARY KEY (record_id, instance))"
)


def test_a_table_keyed_by_id_is_rekeyed_by_id_and_instance_keeping_its_rows(make_settings: SettingsFactory) -> None:
    env = persistence_env(make_settings("rekeytest"))
    store = ViewStore(env, name="rekey_views", ddl=[OLD])
    try:
        with store.transaction() as cur:
            cur.execute("INSERT INTO copies VALUES (?, ?, ?)", ("e1", "tinh-40", "Nghệ An's"))
            assert store.primary_key(cur, "copies") == ["record_id"]

        assert store.rekey("copies", NEW, ["record_id", "instance"]) is True
        assert store.rekey("copies", NEW, ["record_id", "instance"]) is False  # once only
        with store.transaction() as cur:
            assert store.primary_key(cur, "copies") == ["record_id", "instance"]
            cur.execute("INSERT INTO copies VALUES (?, ?, ?)", ("e1", "tinh-31", "Hải Phòng's"))
            rows = cur.execute("SELECT * FROM copies ORDER BY instance").fetchall()
            assert store.primary_key(cur, "missing") is None
        assert rows == [
            {"record_id": "e1", "instance": "tinh-31", "facts": "Hải Phòng's"},
            {"record_id": "e1", "instance": "tinh-40", "facts": "Nghệ An's"},
        ]
    finally:
        store.close()


def test_a_table_made_before_its_view_gained_a_column_gets_it_keeping_its_rows(make_settings: SettingsFactory) -> None:
    env = persistence_env(make_settings("widentest"))
    store = ViewStore(env, name="widen_views", ddl=[NEW.format(t="copies")])
    wider = NEW.replace("facts TEXT NOT NULL,", "facts TEXT NOT NULL, advanced_vnd BIGINT,")
    try:
        with store.transaction() as cur:
            cur.execute("INSERT INTO copies VALUES (?, ?, ?)", ("e1", "tinh-40", "Nghệ An's"))
        assert store.widen("copies", wider) == ["advanced_vnd"]
        assert store.widen("copies", wider) == []  # once only
        assert store.widen("missing", wider) == []
        with store.transaction() as cur:
            cur.execute("INSERT INTO copies VALUES (?, ?, ?, ?)", ("e2", "tinh-40", "x", 560_000_000))
            rows = cur.execute("SELECT * FROM copies ORDER BY record_id").fetchall()
        assert rows == [
            {"record_id": "e1", "instance": "tinh-40", "facts": "Nghệ An's", "advanced_vnd": None},
            {"record_id": "e2", "instance": "tinh-40", "facts": "x", "advanced_vnd": 560_000_000},
        ]
    finally:
        store.close()
