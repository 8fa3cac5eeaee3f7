"""Migrations are the only source of the schema, and they match the models on every database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from innsync.db.migrate import current_revision, head_revision
from innsync.schema import metadata


def test_migrated_schema_matches_the_models(backend: Engine) -> None:
    with backend.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []
    assert current_revision(backend) == head_revision()


def test_readyz_reports_the_migration(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "migration": head_revision()}
    assert client.get("/healthz").json() == {"status": "ok"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert "innsync_http_requests_total" in metrics.text
