"""reservation details and change order

What channels send of a booking (OTA name and code, booked-at, arrival time, requests, taxes and
fees, totals before tax, commission, payment, guarantee without the card, children's ages), the
guest's address and language, the channel kind and connection of a reservation, and the change
order the reservations list pages by (``reservations.change_seq``, ``reservation_sequences``).

Existing reservations are numbered in the order of their last change, per property.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:41:30.545463
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "reservation_sequences",
        sa.Column("property_id", sa.Uuid(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["property_id"],
            ["properties.id"],
            name=op.f("fk_reservation_sequences_property_id_properties"),
        ),
        sa.PrimaryKeyConstraint("property_id", name=op.f("pk_reservation_sequences")),
    )
    with op.batch_alter_table("guests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("city", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("postal_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("language", sa.String(length=35), nullable=True))

    with op.batch_alter_table("reservation_rooms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("child_ages", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("charges", sa.JSON(), nullable=True))

    # Plain ALTER TABLE ... ADD COLUMN, NOT NULL columns with a default, and indexes rather than
    # constraints, so that SQLite alters reservations in place: copying the table (batch mode)
    # fails on the rows that reference it. MySQL takes a TEXT default only as an expression.
    bind = op.get_bind()
    is_mysql = bind.dialect.name == "mysql" and not getattr(bind.dialect, "is_mariadb", False)
    empty_text: str | sa.TextClause = sa.text("('')") if is_mysql else ""
    for column in (
        sa.Column("channel", sa.String(length=32), nullable=False, server_default="direct"),
        sa.Column("connection_id", sa.Uuid(), nullable=True),
        sa.Column("channel_reference", sa.String(length=128), nullable=True),
        sa.Column("ota_name", sa.String(length=64), nullable=True),
        sa.Column("ota_reservation_code", sa.String(length=128), nullable=True),
        sa.Column("booked_at", UTC_DATETIME, nullable=True),
        sa.Column("arrival_time", sa.String(length=5), nullable=True),
        sa.Column("special_requests", sa.Text(), nullable=False, server_default=empty_text),
        sa.Column("total_before_tax", sa.Numeric(precision=13, scale=3), nullable=True),
        sa.Column("commission", sa.Numeric(precision=13, scale=3), nullable=True),
        sa.Column("payment_collect", sa.String(length=16), nullable=True),
        sa.Column("payment_type", sa.String(length=16), nullable=True),
        sa.Column("guarantee", sa.JSON(), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=True),
    ):
        op.add_column("reservations", column)

    _fill_existing()

    with op.batch_alter_table("reservation_rooms", schema=None) as batch_op:
        batch_op.alter_column("child_ages", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("charges", existing_type=sa.JSON(), nullable=False)

    op.create_index(
        "ix_reservations_tenant_ota_code", "reservations", ["tenant_id", "ota_reservation_code"]
    )
    op.create_index(
        "uq_reservations_property_id_change_seq",
        "reservations",
        ["property_id", "change_seq"],
        unique=True,
    )


def _fill_existing() -> None:
    """Channel kind, connection and change order of the reservations already stored."""
    bind = op.get_bind()
    rooms = sa.table(
        "reservation_rooms", sa.column("child_ages", sa.JSON()), sa.column("charges", sa.JSON())
    )
    bind.execute(rooms.update().values(child_ages=[], charges=[]))
    reservations = sa.table(
        "reservations",
        sa.column("id", sa.Uuid()),
        sa.column("property_id", sa.Uuid()),
        sa.column("source", sa.String()),
        sa.column("updated_at", UTC_DATETIME),
        sa.column("channel", sa.String()),
        sa.column("connection_id", sa.Uuid()),
        sa.column("change_seq", sa.BigInteger()),
    )
    connections = sa.table(
        "connections", sa.column("id", sa.Uuid()), sa.column("channel", sa.String())
    )
    sequences = sa.table(
        "reservation_sequences",
        sa.column("property_id", sa.Uuid()),
        sa.column("last_seq", sa.BigInteger()),
    )
    kinds = {
        row.id: row.channel
        for row in bind.execute(sa.select(connections.c.id, connections.c.channel))
    }
    rows = bind.execute(
        sa.select(reservations.c.id, reservations.c.property_id, reservations.c.source).order_by(
            reservations.c.updated_at, reservations.c.id
        )
    ).all()
    last: dict[uuid.UUID, int] = defaultdict(int)
    for row in rows:
        last[row.property_id] += 1
        connection_id = None if row.source == "direct" else uuid.UUID(row.source)
        bind.execute(
            reservations.update()
            .where(reservations.c.id == row.id)
            .values(
                channel="direct" if connection_id is None else kinds.get(connection_id, "unknown"),
                connection_id=connection_id,
                change_seq=last[row.property_id],
            )
        )
    if last:
        bind.execute(
            sequences.insert(),
            [{"property_id": key, "last_seq": value} for key, value in last.items()],
        )


def downgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("uq_reservations_property_id_change_seq")
        batch_op.drop_index("ix_reservations_tenant_ota_code")
        for column in (
            "change_seq",
            "guarantee",
            "payment_type",
            "payment_collect",
            "commission",
            "total_before_tax",
            "special_requests",
            "arrival_time",
            "booked_at",
            "ota_reservation_code",
            "ota_name",
            "channel_reference",
            "connection_id",
            "channel",
        ):
            batch_op.drop_column(column)

    with op.batch_alter_table("reservation_rooms", schema=None) as batch_op:
        batch_op.drop_column("charges")
        batch_op.drop_column("child_ages")

    with op.batch_alter_table("guests", schema=None) as batch_op:
        for column in ("language", "postal_code", "city", "address"):
            batch_op.drop_column(column)

    op.drop_table("reservation_sequences")
