"""One tenant exported from one installation and imported into another beside its tenants."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from innsync.backups.cipher import BackupError, BackupKey
from innsync.backups.service import create_backup, restore_backup, verify_backup
from innsync.backups.store import LocalStore
from innsync.backups.transfer import export_tenant, import_tenant
from innsync.db.engine import session_factory
from innsync.db.migrate import upgrade
from innsync.inventory.models import InventoryLedgerDay
from innsync.reservations.models import Reservation, ReservationChange
from innsync.tenants.models import Tenant
from tests.api.helpers import new_tenant
from tests.backups.conftest import Hotel, book, make_hotel
from tests.backups.test_roundtrip import ledger_matches_confirmed
from tests.calendar_runs import days_covered

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def counts(engine: Engine, tenant_id: str) -> dict[str, int]:
    tenant = uuid.UUID(tenant_id)
    with engine.connect() as connection:
        return {
            "reservations": connection.scalar(
                select(func.count()).where(Reservation.tenant_id == tenant)
            )
            or 0,
            "changes": connection.scalar(
                select(func.count()).where(ReservationChange.tenant_id == tenant)
            )
            or 0,
            "calendar": days_covered(connection),
            "ledger": connection.scalar(select(func.count()).select_from(InventoryLedgerDay)) or 0,
        }


def test_a_tenant_moves_to_another_installation(
    hotel_client: tuple[httpx.Client, Hotel],
    committed: Engine,
    store: LocalStore,
    key: BackupKey,
    empty_database: Any,
) -> None:
    http, moving = hotel_client
    for guest in range(6):
        assert book(http, moving, guest).status_code == 201
    staying = new_tenant(session_factory(committed), "Stays behind")
    http.headers.update(staying.headers)
    other = make_hotel(http, staying)
    assert book(http, other, 1).status_code == 201

    exported = export_tenant(
        committed, store, key, uuid.UUID(moving.caller.tenant_id), actor="test"
    )
    verify_backup(committed, store, exported.name, key, actor="test")

    assert exported.tenant_id == moving.caller.tenant_id
    rows = {table.name: table.rows for table in exported.tables}
    assert rows["tenants"] == 1
    assert rows["reservations"] == 6
    assert "events" not in rows
    # The other installation already serves a tenant with a booking of its own.
    target = empty_database("sqlite" if committed.dialect.name == "postgresql" else "postgresql")
    upgrade(target)
    new_tenant(session_factory(target), "Already here")
    with pytest.raises(BackupError, match="use `innsync backup import`"):
        restore_backup(target, store, exported.name, key, actor="test", force=True)

    import_tenant(target, store, exported.name, key, actor="test")

    with target.connect() as connection:
        names = set(connection.scalars(select(Tenant.name)))
    assert names == {"Hotel Group", "Already here"}
    assert counts(target, moving.caller.tenant_id)["reservations"] == 6
    assert (
        counts(target, moving.caller.tenant_id)["changes"]
        == counts(committed, moving.caller.tenant_id)["changes"]
    )
    ledger, implied = ledger_matches_confirmed(target)
    assert ledger == implied
    assert sum(ledger.values()) == 12
    with pytest.raises(BackupError, match="already in this installation"):
        import_tenant(target, store, exported.name, key, actor="test")
    whole = create_backup(committed, store, key, actor="test")
    with pytest.raises(BackupError, match="use `innsync backup restore`"):
        import_tenant(target, store, whole.name, key, actor="test")
