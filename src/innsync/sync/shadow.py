"""Shadow mode: what the worker would send, logged instead of sent.

A connection in shadow mode is planned like any other (desired minus acknowledged over its
dirty marks), but no request reaches the channel: each planned request becomes a sync log row
with outcome ``shadow`` holding the entries in neutral JSON, and nothing is recorded as
acknowledged. The marks are cleared, so each change is logged once; turning shadow mode off
starts a full sync (``connections.service.update_connection``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.orm import Session

from innsync.channels.encoding import request_json_size, update_to_json
from innsync.channels.types import PushRequest
from innsync.sync.state import log_request

SHADOW = "shadow"
# sync_log.detail holds 2000 characters; past this the entries are cut and the row says so.
DETAIL_CHARS = 1900


def log_shadow(session: Session, connection_id: uuid.UUID, request: PushRequest[Any]) -> None:
    """One sync log row for a request that shadow mode kept back."""
    entries = json.dumps([update_to_json(update) for update in request.updates], default=str)
    if len(entries) > DETAIL_CHARS:
        entries = entries[:DETAIL_CHARS] + f"... ({len(request.updates)} entries)"
    log_request(
        session,
        connection_id,
        request.kind,
        request.updates,
        request_json_size(request.kind, request.updates),
        SHADOW,
        0,
        f"not sent (shadow mode): {entries}",
    )
