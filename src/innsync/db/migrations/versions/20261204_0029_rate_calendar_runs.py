"""rate calendar as runs

The rate calendar is stored as runs of consecutive stay dates holding the same values
(``rate_calendar_runs``) instead of one row per plan and date (``rate_calendar``): a bulk write
of 1,000 entries x 750 days is 1,000 rows, not 750,000 (issue #18). The upgrade folds the day
rows into runs; the downgrade (a backup restored at an older revision) expands them again.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 19:20:00
"""

from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ONE_DAY = timedelta(days=1)
VALUES = (
    "price",
    "occupancy_prices",
    "min_stay_arrival",
    "min_stay_through",
    "max_stay",
    "closed_to_arrival",
    "closed_to_departure",
    "stop_sell",
    "min_advance",
    "max_advance",
    "source_connection_id",
    "source_updated_at",
)
BATCH = 5000


def _value_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("price", sa.Numeric(precision=13, scale=3), nullable=True),
        sa.Column("occupancy_prices", sa.JSON(), nullable=True),
        sa.Column("min_stay_arrival", sa.Integer(), nullable=True),
        sa.Column("min_stay_through", sa.Integer(), nullable=True),
        sa.Column("max_stay", sa.Integer(), nullable=True),
        sa.Column("closed_to_arrival", sa.Boolean(), nullable=True),
        sa.Column("closed_to_departure", sa.Boolean(), nullable=True),
        sa.Column("stop_sell", sa.Boolean(), nullable=True),
        sa.Column("min_advance", sa.Integer(), nullable=True),
        sa.Column("max_advance", sa.Integer(), nullable=True),
        sa.Column("source_connection_id", sa.Uuid(), nullable=True),
        sa.Column("source_updated_at", TIMESTAMP, nullable=True),
    ]


def _runs_table() -> sa.TableClause:
    return sa.table(
        "rate_calendar_runs",
        sa.column("rate_plan_id", sa.Uuid()),
        sa.column("start_date", sa.Date()),
        sa.column("end_date", sa.Date()),
        *(sa.column(c.name, c.type) for c in _value_columns()),
    )


def _days_table() -> sa.TableClause:
    return sa.table(
        "rate_calendar",
        sa.column("rate_plan_id", sa.Uuid()),
        sa.column("stay_date", sa.Date()),
        *(sa.column(c.name, c.type) for c in _value_columns()),
    )


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _folded(days: sa.TableClause, connection: sa.Connection) -> Iterator[dict[str, Any]]:
    """Day rows, in plan and date order, folded into runs of equal values."""
    query = sa.select(days).order_by(days.c.rate_plan_id, days.c.stay_date)
    run: dict[str, Any] | None = None
    for row in connection.execute(query).mappings():
        values = {name: row[name] for name in VALUES}
        if all(value is None for value in values.values()):
            continue
        stay_date: date = row["stay_date"]
        if (
            run is not None
            and run["rate_plan_id"] == row["rate_plan_id"]
            and run["end_date"] == stay_date
            and all(run[name] == values[name] for name in VALUES)
        ):
            run["end_date"] = stay_date + ONE_DAY
            continue
        if run is not None:
            yield run
        run = {
            "rate_plan_id": row["rate_plan_id"],
            "start_date": stay_date,
            "end_date": stay_date + ONE_DAY,
            **values,
        }
    if run is not None:
        yield run


def _expanded(runs: Sequence[sa.RowMapping]) -> Iterator[dict[str, Any]]:
    for row in runs:
        day: date = row["start_date"]
        while day < row["end_date"]:
            yield {
                "rate_plan_id": row["rate_plan_id"],
                "stay_date": day,
                **{name: row[name] for name in VALUES},
            }
            day += ONE_DAY


def upgrade() -> None:
    op.create_table(
        "rate_calendar_runs",
        sa.Column("rate_plan_id", sa.Uuid(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        *_value_columns(),
        sa.ForeignKeyConstraint(
            ["rate_plan_id"],
            ["rate_plans.id"],
            name=op.f("fk_rate_calendar_runs_rate_plan_id_rate_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_connection_id"],
            ["connections.id"],
            name=op.f("fk_rate_calendar_runs_source_connection_id_connections"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("rate_plan_id", "start_date", name=op.f("pk_rate_calendar_runs")),
    )
    connection = op.get_bind()
    runs = _runs_table()
    # The runs are read out before any is written (they are far fewer than the days).
    folded = list(_folded(_days_table(), connection))
    for batch in _batches(iter(folded)):
        connection.execute(sa.insert(runs), batch)
    op.drop_table("rate_calendar")


def downgrade() -> None:
    op.create_table(
        "rate_calendar",
        sa.Column("rate_plan_id", sa.Uuid(), nullable=False),
        sa.Column("stay_date", sa.Date(), nullable=False),
        *_value_columns(),
        sa.ForeignKeyConstraint(
            ["rate_plan_id"],
            ["rate_plans.id"],
            name=op.f("fk_rate_calendar_rate_plan_id_rate_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_connection_id"],
            ["connections.id"],
            name=op.f("fk_rate_calendar_source_connection_id_connections"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("rate_plan_id", "stay_date", name=op.f("pk_rate_calendar")),
    )
    connection = op.get_bind()
    runs = connection.execute(sa.select(_runs_table())).mappings().all()
    for batch in _batches(_expanded(runs)):
        connection.execute(sa.insert(_days_table()), batch)
    op.drop_table("rate_calendar_runs")
