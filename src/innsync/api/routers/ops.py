"""Liveness, readiness and metrics for operators and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from innsync.db.engine import READ_ONLY
from innsync.db.migrate import current_revision, head_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        503: {
            "description": "Not ready: the database is unreachable or not at the newest migration",
            "content": {
                "application/json": {
                    "example": {
                        "status": "unavailable",
                        "migrations": "at 0003, newest is 0004: run innsync migrate",
                    }
                }
            },
        }
    },
)
def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the newest migration."""
    engine: Engine = request.app.state.engine
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as connection:
            connection.execute(text("SELECT 1"))
            current, head = current_revision(connection), head_revision()
    except SQLAlchemyError as exc:
        return JSONResponse(
            {"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "migrations": f"at {current}, newest is {head}: run innsync migrate",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "migration": current})


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
