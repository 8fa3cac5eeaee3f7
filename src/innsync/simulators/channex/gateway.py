"""The front door of the simulated API: auth, body cap, injected faults and the request log."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.simulators.channex.errors import ChannexError, too_many_requests, unauthorized
from innsync.simulators.channex.state import EndpointClass, SimulatorState
from innsync.simulators.kit.requests import decoded_headers, drain_body

API_PREFIX = "/api/v1/"
_CLASSES: dict[str, EndpointClass] = {
    "availability": "availability",
    "restrictions": "restrictions",
    "groups": "entities",
    "properties": "entities",
    "room_types": "entities",
    "rate_plans": "entities",
    "booking_revisions": "bookings",
    "bookings": "bookings",
    "webhooks": "webhooks",
}
_SERVER_ERRORS = {
    500: ("internal_server_error", "Internal Server Error"),
    502: ("bad_gateway", "Bad Gateway"),
    503: ("service_unavailable", "Service Unavailable"),
}


def endpoint_class(path: str) -> EndpointClass:
    """Which family of endpoints a path belongs to (§1.3 limits availability and restrictions)."""
    head = path.removeprefix(API_PREFIX).split("/", 1)[0]
    return _CLASSES.get(head, "other")


class Gateway:
    """ASGI middleware in front of every `/api/v1/` route; `/_sim/` passes straight through."""

    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def _screen(self, scope: Scope, size: int) -> ChannexError | None:
        """The error this request gets before reaching a handler, if any."""
        state = self.state
        # §1.2 / §1.9: the key travels in `user-api-key`; anything else is 401.
        if Headers(scope=scope).get("user-api-key") not in state.config.api_keys:
            return unauthorized()
        if size > state.config.max_body_bytes:
            # §1.3 caps a call at 10 MB without naming the status; 413 is HTTP's own answer.
            return ChannexError(413, "payload_too_large", "Payload Too Large")
        decision = state.faults.decide()
        if decision.delay_seconds > 0:
            # Latency, or a time-out: sleeping past the client's timeout, after which the
            # request is still processed, as a real server would.
            await state.config.sleep(decision.delay_seconds)
        if decision.error_status == 429:
            return too_many_requests()
        if decision.error_status is not None:
            code, title = _SERVER_ERRORS[decision.error_status]
            return ChannexError(decision.error_status, code, title)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        state = self.state
        arrived_at = state.now()
        body, size = await drain_body(receive, state.config.max_body_bytes)
        request_state: dict[str, object] = scope.setdefault("state", {})
        request_id = state.new_request_id()
        status = 500
        is_replayed = False

        async def replay() -> Message:
            nonlocal is_replayed
            if not is_replayed:
                is_replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_tagged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                # §1.2: responses carry an x-request-id header.
                MutableHeaders(scope=message).append("x-request-id", request_id)
            await send(message)

        try:
            error = await self._screen(scope, size)
            if error is not None:
                await error.response()(scope, replay, send_tagged)
            else:
                await self.app(scope, replay, send_tagged)
        finally:
            property_ids = request_state.get("property_ids", ())
            state.requests.record(
                masker=state.masker(),
                method=str(scope["method"]),
                path=str(scope["path"]),
                query=bytes(scope.get("query_string", b"")).decode("latin-1"),
                headers=decoded_headers(scope.get("headers", ())),
                body=body,
                body_bytes=size,
                status=status,
                at=arrived_at,
                tags={
                    "endpoint_class": endpoint_class(str(scope["path"])),
                    "property_ids": list(property_ids) if isinstance(property_ids, tuple) else [],
                },
            )
