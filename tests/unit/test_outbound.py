"""The outbound-URL policy: which addresses are refused, after resolution, at every connect."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from innsync.channels.errors import ChannelRejectedError, ChannelUnavailableError
from innsync.channels.http import ChannelHttp, error_for_status
from innsync.events.delivery import DELIVERY_FAILED, ClaimedDelivery, send
from innsync.outbound import (
    OutboundPolicy,
    OutboundRefusedError,
    UnresolvedHostError,
    async_client,
    parse_networks,
    refusal_in,
    remote_text,
    sync_client,
    system_resolver,
)
from innsync.settings import Settings
from tests.servers import free_port

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "metadata"),
    ("fd00:ec2::254", "metadata"),
    ("169.254.10.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fd12:3456::1", "unique-local"),
    ("fc00::1", "unique-local"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.1", "private"),
    ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address judged, not bound
    ("::", "unspecified"),
    ("100.64.0.1", "non-public"),  # carrier-grade NAT, e.g. Alibaba's metadata 100.100.100.200
    ("224.0.0.1", "multicast"),
    ("255.255.255.255", "private"),
    ("192.0.2.1", "private"),  # documentation range
]


@pytest.mark.parametrize(("address", "category"), REFUSED)
def test_non_public_addresses_are_refused_by_default(address: str, category: str) -> None:
    reason = OutboundPolicy().refusal(ipaddress.ip_address(address))
    assert reason is not None
    assert category in reason


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert OutboundPolicy().refusal(ipaddress.ip_address(address)) is None


def test_loopback_opens_only_in_development_mode_and_never_by_a_network_list() -> None:
    loopback, private = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.0.0.1")
    development = OutboundPolicy(allow_loopback=True)
    assert development.refusal(loopback) is None
    assert development.refusal(private) is not None  # development opens loopback only
    listed = OutboundPolicy(allow_networks=parse_networks(["127.0.0.0/8", "10.0.0.0/8"]))
    assert listed.refusal(loopback) is not None
    assert listed.refusal(private) is None


def test_the_deny_list_wins_over_the_allow_list_and_closes_public_addresses() -> None:
    policy = OutboundPolicy(
        allow_networks=parse_networks(["10.20.0.0/16"]),
        deny_networks=parse_networks(["10.20.30.0/24", "203.0.113.0/24", "93.184.216.0/24"]),
    )
    assert policy.refusal(ipaddress.ip_address("10.20.1.1")) is None
    assert "operator denies" in str(policy.refusal(ipaddress.ip_address("10.20.30.40")))
    assert "operator denies" in str(policy.refusal(ipaddress.ip_address("93.184.216.34")))
    # An IPv4 address wrapped in IPv6 meets the same lists.
    assert policy.refusal(ipaddress.ip_address("::ffff:93.184.216.34")) is not None


def test_settings_build_the_policy_and_a_bad_network_fails_at_start() -> None:
    settings = Settings(
        development_mode=False,
        outbound_allow_networks="10.20.0.0/16, 192.168.7.0/24",
        outbound_deny_networks="8.8.8.0/24",
    )
    policy = OutboundPolicy.from_settings(settings)
    assert (policy.allow_loopback, len(policy.allow_networks), len(policy.deny_networks)) == (
        False,
        2,
        1,
    )
    assert OutboundPolicy.from_settings(Settings(development_mode=True)).allow_loopback
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        Settings(outbound_allow_networks="10.0.0.0/33")


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/hook",
        "http://127.0.0.1/",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0x7f.1/",  # hexadecimal and short forms
        "http://127.1:9000/",
        "http://017700000001/",  # octal
        "http://[::1]:8080/",
        "http://[::ffff:7f00:1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/",
        "http://[fd00::7]/",
        "http://0.0.0.0:22/",
    ],
)
def test_check_url_refuses_every_spelling_of_an_internal_address(url: str) -> None:
    # The system resolver reads the numeric forms itself; no DNS query is made for them.
    with pytest.raises(OutboundRefusedError, match="outbound policy refuses"):
        OutboundPolicy().check_url(url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://files.example/x", "http"),
        ("http:///no-host", "http"),
        ("https://user:pw@pms.example/", "user name or password"),
        ("https://pms.example:99999/", "port"),
        ("http://[::1/", "cannot be read"),
    ],
)
def test_check_url_refuses_what_is_not_a_plain_http_url(url: str, message: str) -> None:
    with pytest.raises(OutboundRefusedError, match=message):
        OutboundPolicy(resolver=lambda host, port: ["93.184.216.34"]).check_url(url)


def test_a_name_is_judged_by_every_address_it_resolves_to() -> None:
    answers = {
        "internal.example": ["192.168.0.10"],
        "mixed.example": ["93.184.216.34", "10.0.0.1"],
        "public.example": ["93.184.216.34", "2606:4700:4700::1111"],
    }
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return answers[host]

    policy = OutboundPolicy(resolver=resolver)
    with pytest.raises(OutboundRefusedError, match="private address"):
        policy.check_url("https://internal.example/hooks")
    with pytest.raises(OutboundRefusedError, match="private address"):
        policy.check_url("https://mixed.example/hooks")
    policy.check_url("https://public.example:8443/hooks")
    assert asked == [
        ("internal.example", 443),
        ("mixed.example", 443),
        ("public.example", 8443),
    ]


def test_an_unresolvable_name_passes_a_store_time_check_unless_it_must_resolve() -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise UnresolvedHostError(f"host {host!r} does not resolve")

    policy = OutboundPolicy(resolver=nowhere)
    policy.check_url("https://pms.example/hooks")
    with pytest.raises(UnresolvedHostError):
        policy.check_url("https://pms.example/hooks", must_resolve=True)


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.path == "/ok":
            self.send_response(204)
            self.end_headers()
            return
        body = b"internal secret: hunter2\n" + b"x" * 5000
        self.send_response(500)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def internal_service() -> Iterator[tuple[int, list[str]]]:
    """An "internal" HTTP service on loopback that answers 500 with a secret in its body."""
    hits: list[str] = []
    handler = type("Recorder", (_Recorder,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], hits
    finally:
        server.shutdown()
        server.server_close()


def test_the_guarded_clients_refuse_before_connecting(
    internal_service: tuple[int, list[str]],
) -> None:
    port, hits = internal_service
    hits.clear()
    url = f"http://127.0.0.1:{port}/admin"
    with (
        sync_client(OutboundPolicy(), timeout=5) as client,
        pytest.raises(httpx.ConnectError) as raised,
    ):
        client.get(url)
    assert refusal_in(raised.value) is not None

    async def fetch() -> None:
        async with async_client(OutboundPolicy(), timeout=5) as http:
            await http.get(url)

    with pytest.raises(httpx.ConnectError) as raised_async:
        asyncio.run(fetch())
    assert refusal_in(raised_async.value) is not None
    assert hits == []  # the service never saw a request
    # The same clients reach it in development mode, so the guard is what refused.
    with sync_client(OutboundPolicy(allow_loopback=True), timeout=5) as client:
        assert client.get(url).status_code == 500
    assert hits == ["/admin"]


def test_the_connection_goes_to_the_address_that_was_checked_not_a_second_lookup(
    internal_service: tuple[int, list[str]],
) -> None:
    """DNS rebinding: a name that resolved to a public address when the URL was stored, and
    resolves to an internal one when innsync connects, is refused at the connect; and the
    connect uses the checked answer itself (the system resolver does not know the name)."""
    port, hits = internal_service
    hits.clear()
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    rebinding = OutboundPolicy(resolver=lambda host, port: next(answers))
    url = f"http://rebind.invalid:{port}/x"
    rebinding.check_url(url)  # stored: the name was public then
    with sync_client(rebinding, timeout=5) as client, pytest.raises(httpx.ConnectError) as raised:
        client.get(url)
    assert "loopback" in str(refusal_in(raised.value))
    assert hits == []
    pinned = OutboundPolicy(allow_loopback=True, resolver=lambda host, port: ["127.0.0.1"])
    with sync_client(pinned, timeout=5) as client:
        assert client.get(url).status_code == 500
    assert hits == ["/x"]


def test_a_refused_channel_address_is_final_and_no_remote_body_is_quoted(
    internal_service: tuple[int, list[str]],
) -> None:
    port, _ = internal_service

    async def call(policy: OutboundPolicy) -> None:
        async with async_client(policy, timeout=5) as http:
            channel = ChannelHttp(
                http=http,
                channel="Channex",
                base_url=f"http://127.0.0.1:{port}",
                timeout=httpx.Timeout(5),
            )
            await channel.send("GET", "/admin")

    with pytest.raises(ChannelRejectedError, match=r"refused: .*loopback"):
        asyncio.run(call(OutboundPolicy()))
    # Reached (development), the internal service's 500 body never makes it into the error.
    with pytest.raises(ChannelUnavailableError) as raised:
        asyncio.run(call(OutboundPolicy(allow_loopback=True)))
    assert "answered 500 Internal Server Error" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_remote_error_texts_are_one_line_of_at_most_200_characters() -> None:
    assert remote_text("a\nb\tc\x00d") == "a b c d"
    long = remote_text("word " * 100)
    assert len(long) == 200
    assert long.endswith("…")
    response = httpx.Response(
        422, json={"message": "x" * 5000}, request=httpx.Request("POST", "https://c.example/p")
    )
    error = error_for_status(
        "Testchan",
        "POST",
        "/p",
        response,
        now=datetime.now(UTC),
        describe=lambda answer: str(answer.json()["message"]),
    )
    assert str(error).startswith("Testchan POST /p answered 422 ")
    assert len(str(error)) <= len("Testchan POST /p answered 422 ") + 200


def test_production_is_the_default_and_the_suite_runs_in_development_mode() -> None:
    # conftest.py sets INNSYNC_DEVELOPMENT_MODE for the suite (simulators on loopback).
    assert Settings.model_fields["development_mode"].default is False
    assert Settings().development_mode
    assert not Settings(development_mode=False).development_mode


def test_failed_webhook_deliveries_read_the_same_for_open_closed_and_refused_targets(
    internal_service: tuple[int, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    port, _ = internal_service
    closed = free_port()  # nothing listens there

    def attempt(url: str) -> tuple[int | None, str | None]:
        claimed = ClaimedDelivery(
            delivery_id=1, url=url, secret="s" * 16, event_id=7, body=b"{}", attempt=1
        )
        policy = OutboundPolicy(allow_loopback=True, resolver=_numeric_or_private)
        with sync_client(policy, timeout=5) as client:
            return send(client, claimed, datetime.now(UTC))

    outcomes = {
        "open port, HTTP 500": attempt(f"http://127.0.0.1:{port}/hook"),
        "closed port": attempt(f"http://127.0.0.1:{closed}/hook"),
        "refused address": attempt("http://intranet.example/hook"),
        "not a URL": attempt("http://[::1/hook"),
    }
    assert set(outcomes.values()) == {(None, DELIVERY_FAILED)}
    assert attempt(f"http://127.0.0.1:{port}/ok") == (204, None)
    # The operator's log tells them apart.
    reasons = [
        record.__dict__["reason"]
        for record in caplog.records
        if record.msg == "webhook delivery failed"
    ]
    assert reasons[0] == "HTTP 500"
    assert reasons[1] == "ConnectError"
    assert "private address" in reasons[2]


def _numeric_or_private(host: str, port: int) -> list[str]:
    return ["10.9.8.7"] if host == "intranet.example" else system_resolver(host, port)


def test_httpcore_tells_the_event_loop_without_searching_for_a_module() -> None:
    """httpcore imports ``sniffio`` on every request: without it each import fails anew and
    searches ``sys.path`` (a third of a millisecond per channel call), so it is a dependency."""
    import sys

    from httpcore._synchronization import current_async_library

    async def which() -> str:
        return current_async_library()

    assert asyncio.run(which()) == "asyncio"
    assert "sniffio" in sys.modules
