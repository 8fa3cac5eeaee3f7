"""/api/v1/backups: the operator's token only, never a tenant's key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine

from innsync.api.app import create_app
from innsync.backups.cipher import generate_backup_key
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.settings import Settings
from tests.api.helpers import new_tenant, problem

pytestmark = pytest.mark.backends("sqlite", "postgresql")
TOKEN = "operator-token-for-tests"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def http(committed: Engine, secret_box: SecretBox, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database_url="sqlite://",
        background_loops=False,
        backup_key=SecretStr(generate_backup_key()),
        backup_dir=tmp_path / "backups",
        operator_token=SecretStr(TOKEN),
    )
    app = create_app(
        settings,
        engine=committed,
        sessions=session_factory(committed),
        secret_box=secret_box,
        run_loops=False,
    )
    with TestClient(app) as client:
        yield client


def test_a_tenant_admin_key_is_refused(http: TestClient, committed: Engine) -> None:
    admin = new_tenant(session_factory(committed))
    problem(http.get("/api/v1/backups", headers=admin.headers), 403, "operator token")
    problem(http.post("/api/v1/backups", headers=admin.headers), 403, "operator token")
    problem(http.get("/api/v1/backups"), 401, "Bearer")
    assert http.get("/api/v1/backups", headers=OPERATOR).json()["backups"] == []


def test_create_verify_list_delete(http: TestClient, committed: Engine) -> None:
    new_tenant(session_factory(committed))
    created = http.post("/api/v1/backups?verify=true", headers=OPERATOR)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["verified_at"] is not None
    assert {t["name"]: t["rows"] for t in body["tables"]}["tenants"] == 1

    verified = http.post(f"/api/v1/backups/{body['name']}/verify", headers=OPERATOR)
    assert verified.status_code == 200, verified.text
    listed = http.get("/api/v1/backups", headers=OPERATOR).json()
    assert [b["name"] for b in listed["backups"]] == [body["name"]]
    assert [(o["operation"], o["outcome"], o["actor"]) for o in listed["operations"]] == [
        ("verify", "ok", "api:operator"),
        ("verify", "ok", "api:operator"),
        ("create", "ok", "api:operator"),
    ]

    assert http.delete(f"/api/v1/backups/{body['name']}", headers=OPERATOR).status_code == 204
    problem(http.get(f"/api/v1/backups/{body['name']}", headers=OPERATOR), 404, "no backup")
