"""Mounts the admin on the app: its pages, its static files and its error pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

from innsync.admin import calendar, connection_pages, ops, pages
from innsync.admin import reservations as admin_reservations
from innsync.admin.auth import ADMIN_PATH, AdminRefusalError, SignInRequiredError, login_path
from innsync.admin.rendering import STATIC_DIR, page
from innsync.api.throttle import FailureBudget
from innsync.settings import Settings
from innsync.tenants.users import Passwords

STATIC_PATH = f"{ADMIN_PATH}/static"


def install(app: FastAPI, settings: Settings) -> None:
    """Serve /admin from this app (the same process and database as the API)."""
    app.state.passwords = Passwords.from_settings(settings)
    app.state.login_failures = FailureBudget(
        settings.login_failure_limit, settings.auth_failure_window_seconds
    )
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="admin-static")
    app.include_router(pages.router)
    app.include_router(admin_reservations.router)
    app.include_router(connection_pages.router)
    app.include_router(ops.router)
    app.include_router(calendar.router)

    @app.exception_handler(SignInRequiredError)
    async def _sign_in(request: Request, exc: SignInRequiredError) -> Response:
        target = login_path(exc.path)
        if request.headers.get("HX-Request"):
            # htmx would swap the sign-in page into the part it polls: send the whole tab.
            return Response(status_code=204, headers={"HX-Redirect": target})
        return Response(status_code=303, headers={"Location": target})

    @app.exception_handler(AdminRefusalError)
    async def _refused(request: Request, exc: AdminRefusalError) -> HTMLResponse:
        return page(
            request, "error.html", {"status": exc.status, "message": exc.message}, exc.status
        )
