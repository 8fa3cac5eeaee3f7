"""``db.driver_insert`` refuses a table whose Python-side defaults it would silently skip."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, UniqueConstraint, create_engine

from innsync.db.driver_insert import insert_if_new

METADATA = MetaData()
ITEMS = Table(
    "items",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("key", String(16), nullable=False),
    Column("tries", Integer, nullable=False, default=0),  # SQLAlchemy's to fill, not the table's
    UniqueConstraint("key"),
)


def test_rows_are_stored_once_per_key_and_python_defaults_must_be_given() -> None:
    engine = create_engine("sqlite://")
    METADATA.create_all(engine)
    with engine.begin() as connection:
        with pytest.raises(ValueError, match="must be given tries"):
            insert_if_new(connection, ITEMS, ("key",), ("key",), [{"key": "a"}])
        rows = [{"key": "a", "tries": 0}, {"key": "b", "tries": 1}, {"key": "a", "tries": 2}]
        assert insert_if_new(connection, ITEMS, ("key", "tries"), ("key",), rows) == [
            True,
            True,
            False,
        ]
        assert insert_if_new(connection, ITEMS, ("key", "tries"), ("key",), rows[:1]) == [False]
        stored = connection.execute(ITEMS.select().order_by(ITEMS.c.key)).all()
    assert [(row.key, row.tries) for row in stored] == [("a", 0), ("b", 1)]
