"""personal data at rest

Guests' details, reservations' free text and guarantee, the change history, conflicts, event
payloads, sync log details and raw inbox bodies are encrypted under the secret keys
(``innsync/db/personal.py``); guests are matched and searched by keyed hashes instead of the
normalized e-mail and phone kept in clear. Existing rows are encrypted here, in batches.

A column whose type changes (a name was VARCHAR, a document JSON) is replaced by a new one
under the same name (add, fill, drop, rename) rather than altered: SQLite would otherwise copy
the whole table, which fails on the rows that reference guests and reservations.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 09:30:00
"""

import json
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from innsync.db.personal import personal_hash, seal_bytes

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEALED_TEXT = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# Rows encrypted per statement batch: bounded memory on a large inbox.
BATCH = 500

# (table, primary key, column, required): columns replaced by an encrypted text column.
REPLACED = (
    ("guests", "id", "first_name", True),
    ("guests", "id", "last_name", True),
    ("guests", "id", "email", False),
    ("guests", "id", "phone", False),
    ("guests", "id", "address", False),
    ("guests", "id", "city", False),
    ("guests", "id", "postal_code", False),
    ("reservations", "id", "guarantee", False),
    ("reservations", "id", "pms_base", False),
    ("reservation_changes", "id", "changes", True),
    ("reservation_changes", "id", "snapshot", True),
    ("reservation_conflicts", "id", "channel_version", True),
    ("reservation_conflicts", "id", "pms_version", True),
    ("events", "id", "payload", True),
)
# Columns that keep their type (text, or binary for inbox bodies) and are encrypted in place.
IN_PLACE = (
    ("reservations", "id", "special_requests", "text"),
    ("reservations", "id", "notes", "text"),
    ("sync_log", "id", "detail", "text"),
    ("inbox_items", "id", "body", "binary"),
)
JSON_COLUMNS = {"guarantee", "pms_base", "changes", "snapshot", "channel_version", "pms_version"}
JSON_COLUMNS |= {"payload"}


def upgrade() -> None:
    bind = op.get_bind()
    is_mysql = bind.dialect.name == "mysql"
    with op.batch_alter_table("guests") as batch:
        batch.add_column(sa.Column("email_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("phone_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("name_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("erased_at", TIMESTAMP, nullable=True))
    _hash_guests()
    op.drop_index("ix_guests_email_normalized", table_name="guests")
    op.drop_index("ix_guests_phone_e164", table_name="guests")
    _drop_column("guests", "email_normalized")
    _drop_column("guests", "phone_e164")
    for name in ("email_hash", "phone_hash", "name_hash"):
        op.create_index(f"ix_guests_{name}", "guests", [name])

    for table, key, column, required in REPLACED:
        _replace(table, key, column, required, is_mysql)
    for table, key, column, kind in IN_PLACE:
        if is_mysql and kind == "text":
            op.alter_column(
                table, column, type_=mysql.LONGTEXT(), existing_type=sa.Text(), nullable=False
            )
        _seal_rows(table, key, column, column, _seal_binary if kind == "binary" else _seal_text)


def _replace(table: str, key: str, column: str, required: bool, is_mysql: bool) -> None:
    """Add ``column__sealed``, fill it with the encrypted old value, drop the old column and
    give the new one its name; only native ALTER TABLE statements, on every database."""
    new = f"{column}__sealed"
    # SQLite adds a NOT NULL column only with a default; MySQL gives TEXT no literal default.
    default = "" if required and not is_mysql else None
    op.add_column(
        table,
        sa.Column(new, SEALED_TEXT, nullable=is_mysql or not required, server_default=default),
    )
    seal = _seal_json if column in JSON_COLUMNS else _seal_text
    _seal_rows(table, key, column, new, seal)
    _drop_column(table, column)
    quote = op.get_bind().dialect.identifier_preparer.quote
    op.execute(f"ALTER TABLE {quote(table)} RENAME COLUMN {quote(new)} TO {quote(column)}")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            table, column, existing_type=SEALED_TEXT, nullable=not required, server_default=None
        )


def _drop_column(table: str, column: str) -> None:
    quote = op.get_bind().dialect.identifier_preparer.quote
    op.execute(f"ALTER TABLE {quote(table)} DROP COLUMN {quote(column)}")


def _seal_text(value: Any) -> str:
    return seal_bytes(str(value).encode()).decode()


def _seal_json(value: Any) -> str:
    # JSON columns read back as text on some drivers and as documents on others.
    document = json.loads(value) if isinstance(value, str) else value
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return seal_bytes(text.encode()).decode()


def _seal_binary(value: Any) -> bytes:
    return seal_bytes(bytes(value))


def _seal_rows(table: str, key: str, source: str, target: str, seal: Callable[[Any], Any]) -> None:
    """Encrypt ``source`` into ``target`` for every row, a batch at a time in key order."""
    bind = op.get_bind()
    rows = sa.table(table, sa.column(key), sa.column(source), sa.column(target))
    after: Any = None
    while True:
        query = sa.select(rows.c[key], rows.c[source]).order_by(rows.c[key]).limit(BATCH)
        if after is not None:
            query = query.where(rows.c[key] > after)
        batch = bind.execute(query).all()
        if not batch:
            return
        update = (
            rows.update()
            .where(rows.c[key] == sa.bindparam("k"))
            .values({target: sa.bindparam("v")})
        )
        values = [{"k": row[0], "v": None if row[1] is None else seal(row[1])} for row in batch]
        bind.execute(update, values)
        after = batch[-1][0]


def _hash_guests() -> None:
    """Keyed hashes of the normalized e-mail and phone (as stored) and of the full name."""
    bind = op.get_bind()
    guests = sa.table(
        "guests",
        *(
            sa.column(name)
            for name in (
                "id",
                "first_name",
                "last_name",
                "email_normalized",
                "phone_e164",
                "email_hash",
                "phone_hash",
                "name_hash",
            )
        ),
    )
    after: Any = None
    while True:
        query = sa.select(guests).order_by(guests.c.id).limit(BATCH)
        if after is not None:
            query = query.where(guests.c.id > after)
        batch = bind.execute(query).all()
        if not batch:
            return
        values = []
        for row in batch:
            name = " ".join(f"{row.first_name or ''} {row.last_name or ''}".split()).casefold()
            values.append(
                {
                    "k": row.id,
                    "e": personal_hash(row.email_normalized) if row.email_normalized else None,
                    "p": personal_hash(row.phone_e164) if row.phone_e164 else None,
                    "n": personal_hash(name) if name else None,
                }
            )
        bind.execute(
            guests.update()
            .where(guests.c.id == sa.bindparam("k"))
            .values(
                email_hash=sa.bindparam("e"),
                phone_hash=sa.bindparam("p"),
                name_hash=sa.bindparam("n"),
            ),
            values,
        )
        after = batch[-1].id


def downgrade() -> None:
    raise NotImplementedError(
        "personal data stays encrypted: restore a backup made before 0021 to go back"
    )
