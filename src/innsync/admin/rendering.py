"""Templates and the headers every admin page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from innsync.admin.dashboard import since

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
HTMX = "htmx-2.0.11.min.js"
# Scripts and styles only from innsync itself (htmx is vendored; no inline script or style),
# forms only to innsync, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(since=since, htmx=HTMX)


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    """A rendered page, never cached (it is one tenant's data), under the strict policy."""
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"
    return response
