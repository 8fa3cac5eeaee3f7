"""Alert notifications reach real local servers: an e-mail at an SMTP server the test starts
(aiosmtpd), a signed webhook and a Slack-style POST at a local HTTP server; a flapping
condition is rate-limited into summaries; two evaluators take one pass."""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from innsync.alerts.lease import take_pass
from innsync.alerts.models import Alert, Notification, NotificationTarget
from innsync.alerts.notify import create_target
from innsync.alerts.notify_send import send_due, send_test, trial_message
from innsync.alerts.notify_transports import Message, NotificationSendError, SmtpConfig, send_email
from innsync.alerts.rules import AlertRule
from innsync.alerts.schemas import NotificationTargetCreate
from innsync.alerts.service import evaluate, evaluate_pass
from innsync.connections.models import Connection, ConnectionState
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.events import kinds
from innsync.events.delivery import signature_header
from innsync.events.models import Event
from innsync.outbound import OutboundPolicy, sync_client
from tests.alerts.test_rules import T0, THRESHOLDS, hotel
from tests.conftest import Db
from tests.servers import free_port
from tests.sync.engine_fixtures import HotelRows, create_hotel_rows

__all__ = ["hotel"]
WINDOW = timedelta(minutes=15)
NEEDS = AlertRule.NEEDS_ATTENTION


@dataclass
class Inbox:
    """What the local SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, _class=EmailMessage, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.messages.append(mail)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpConfig, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpConfig("127.0.0.1", port, "none", None, None, "alerts@innsync.test", 5.0), inbox
    finally:
        controller.stop()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Web:
    url: str
    received: list[Received]
    statuses: list[int]  # answers to give, in order; 200 once they run out


@pytest.fixture
def web() -> Iterator[Web]:
    with local_web() as server:
        yield server


@contextmanager
def local_web() -> Iterator[Web]:
    """A local HTTP server recording every POST, answering the queued statuses, then 200."""
    received: list[Received] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(statuses.pop(0) if statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Web(f"http://127.0.0.1:{server.server_address[1]}/hook", received, statuses)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    # Loopback is open only because the test's servers live there (development mode does it).
    with sync_client(OutboundPolicy(allow_loopback=True), timeout=5) as http:
        yield http


def target(session: Session, box: SecretBox, rows: HotelRows, **fields: Any) -> str | None:
    data = NotificationTargetCreate.model_validate({"name": "night desk", **fields})
    _, secret = create_target(session, box, rows.tenant_id, data)
    return secret


def set_state(session: Session, rows: HotelRows, state: ConnectionState) -> None:
    session.execute(
        update(Connection).where(Connection.id == rows.connection_id).values(state=state)
    )


def statuses(session: Session) -> list[str]:
    return [n.status for n in session.scalars(select(Notification).order_by(Notification.id))]


def test_an_alert_email_arrives_at_the_smtp_server(
    db: Db,
    secret_box: SecretBox,
    hotel: HotelRows,
    smtp: tuple[SmtpConfig, Inbox],
    client: httpx.Client,
) -> None:
    config, inbox = smtp
    with db.sessions() as session:
        target(session, secret_box, hotel, kind="email", address="desk@hotel.test")
        set_state(session, hotel, ConnectionState.NEEDS_ATTENTION)
        evaluate(session, T0, THRESHOLDS)
        session.commit()
    sent = send_due(db.sessions, secret_box, client, config, T0, window=WINDOW, max_attempts=3)
    assert sent == 1
    [mail] = inbox.messages
    connection = f"connection {hotel.connection_id}"
    assert mail["Subject"] == f"[innsync] OPENED connection_needs_attention (warning): {connection}"
    assert (mail["From"], mail["To"]) == ("alerts@innsync.test", "desk@hotel.test")
    body = mail.get_content()
    assert f"Alert connection_needs_attention (warning) opened for {connection}." in body
    assert "channel=fake" in body
    with db.sessions() as session:
        assert statuses(session) == ["sent"]
        # Resolved, outside the window: a second mail, about the resolution.
        set_state(session, hotel, ConnectionState.CONNECTED)
        evaluate(session, T0 + WINDOW, THRESHOLDS)
        session.commit()
    later = T0 + WINDOW
    send_due(db.sessions, secret_box, client, config, later, window=WINDOW, max_attempts=3)
    assert [m["Subject"].split()[1] for m in inbox.messages] == ["OPENED", "RESOLVED"]


def test_signed_webhook_and_slack_payloads(
    db: Db, secret_box: SecretBox, hotel: HotelRows, web: Web, client: httpx.Client
) -> None:
    with db.sessions() as session:
        secret = target(session, secret_box, hotel, kind="webhook", address=web.url)
        target(session, secret_box, hotel, kind="slack", address=web.url + "/slack")
        # A target for critical alerts only is not told about a warning.
        target(
            session,
            secret_box,
            hotel,
            kind="slack",
            address=web.url + "/pager",
            min_severity="critical",
        )
        set_state(session, hotel, ConnectionState.NEEDS_ATTENTION)
        evaluate(session, T0, THRESHOLDS)
        session.commit()
    send_due(db.sessions, secret_box, client, None, T0, window=WINDOW, max_attempts=3)
    assert len(web.received) == 2
    signed = next(r for r in web.received if "innsync-signature" in r.headers)
    slack = next(r for r in web.received if "innsync-signature" not in r.headers)
    assert secret is not None
    timestamp = int(signed.headers["innsync-timestamp"])
    assert timestamp == int(T0.timestamp())
    assert signed.headers["innsync-signature"] == signature_header(secret, timestamp, signed.body)
    document = json.loads(signed.body)
    assert (document["kind"], document["rule"], document["summary"]) == (
        "alert.notification",
        "connection_needs_attention",
        False,
    )
    assert document["alerts"][0]["subject_id"] == str(hotel.connection_id)
    assert document["changes"][0]["transition"] == "opened"
    payload = json.loads(slack.body)
    assert list(payload) == ["text"]
    assert payload["text"].startswith("*[innsync] OPENED connection_needs_attention (warning)")


def test_a_failed_send_is_retried_then_sent(
    db: Db, secret_box: SecretBox, hotel: HotelRows, web: Web, client: httpx.Client
) -> None:
    web.statuses.append(503)
    with db.sessions() as session:
        target(session, secret_box, hotel, kind="slack", address=web.url)
        set_state(session, hotel, ConnectionState.NEEDS_ATTENTION)
        evaluate(session, T0, THRESHOLDS)
        session.commit()
    send_due(db.sessions, secret_box, client, None, T0, window=WINDOW, max_attempts=3)
    with db.sessions() as session:
        [row] = session.scalars(select(Notification))
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error == "the URL did not answer with a 2xx status"
        retry_at = row.next_attempt_at
    assert T0 + timedelta(seconds=30) <= retry_at <= T0 + timedelta(seconds=38)
    send_due(db.sessions, secret_box, client, None, retry_at, window=WINDOW, max_attempts=3)
    with db.sessions() as session:
        assert statuses(session) == ["sent"]
    assert len(web.received) == 2


def test_a_flapping_condition_is_rate_limited(
    db: Db, secret_box: SecretBox, hotel: HotelRows, web: Web, client: httpx.Client
) -> None:
    """Open and resolved 20 times in 40 minutes: 40 changes, one message per 15-minute window
    (at 0, 15, 30 and 45 minutes), every change told in one of them."""
    with db.sessions() as session:
        target(session, secret_box, hotel, kind="webhook", address=web.url)
        session.commit()
    for minute in range(60):
        now = T0 + timedelta(minutes=minute)
        if minute < 40:
            with db.sessions() as session:
                state = ConnectionState.NEEDS_ATTENTION if minute % 2 == 0 else "connected"
                set_state(session, hotel, ConnectionState(state))
                evaluate(session, now, THRESHOLDS)
                session.commit()
        send_due(db.sessions, secret_box, client, None, now, window=WINDOW, max_attempts=3)
    documents = [json.loads(r.body) for r in web.received]
    assert len(documents) == 4
    assert [len(d["changes"]) for d in documents] == [1, 15, 15, 9]
    assert [d["summary"] for d in documents] == [False, True, True, True]
    with db.sessions() as session:
        rows = statuses(session)
        assert (rows.count("sent"), rows.count("folded"), len(rows)) == (4, 36, 40)
        sent_at = list(
            session.scalars(
                select(Notification.sent_at)
                .where(Notification.status == "sent")
                .order_by(Notification.id)
            )
        )
    assert [(at - T0) // timedelta(minutes=1) for at in sent_at if at] == [0, 15, 30, 45]


def test_test_notification(
    db: Db, secret_box: SecretBox, hotel: HotelRows, web: Web, client: httpx.Client
) -> None:
    with db.sessions() as session:
        target(session, secret_box, hotel, kind="slack", address=web.url)
        [row] = session.scalars(select(NotificationTarget))
        assert send_test(secret_box, client, None, row, T0) is None
        web.statuses.append(500)
        assert send_test(secret_box, client, None, row, T0) == (
            "the URL did not answer with a 2xx status"
        )
        email = NotificationTarget(
            tenant_id=hotel.tenant_id,
            kind="email",
            name="x",
            address_encrypted=secret_box.encrypt("a@b.test"),
        )
        assert "not configured" in (send_test(secret_box, client, None, email, T0) or "")
    assert "test notification" in json.loads(web.received[0].body)["text"]


def test_two_evaluators_take_one_pass(committed: Engine, secret_box: SecretBox) -> None:
    """Both evaluators race for the pass due at the same instant: one evaluates and opens the
    alert, the other skips the pass; a pass is taken again an interval later."""
    sessions = session_factory(committed)
    rows = create_hotel_rows(sessions, secret_box, ConnectionCreate(channel="fake", name="F"))
    with sessions() as session:
        set_state(session, rows, ConnectionState.NEEDS_ATTENTION)
        session.commit()
    interval = timedelta(seconds=60)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def evaluator(name: str) -> None:
        with sessions() as session:
            barrier.wait()
            results.append(evaluate_pass(session, name, T0, interval, THRESHOLDS))
            session.commit()

    threads = [threading.Thread(target=evaluator, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r is None for r in results) == [False, True]
    with sessions() as session:
        assert [a.rule for a in session.scalars(select(Alert))] == [NEEDS]
        opened = select(Event).where(Event.kind == kinds.ALERT_OPENED)
        assert len(list(session.scalars(opened))) == 1
        assert not take_pass(session, "a", T0 + interval / 2, interval)
        assert take_pass(session, "b", T0 + interval, interval)
        session.commit()


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, for the local SMTP server's TLS."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2100, 1, 1, tzinfo=UTC))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.pem", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_email_over_starttls_and_tls_with_login(
    tmp_path: Path, secret_box: SecretBox, security: str
) -> None:
    """The mail goes over TLS (upgraded, or from the first byte) and logs in; an untrusted
    certificate is refused before the password is sent."""
    cert_path, key_path = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_path, key_path)
    client_tls = ssl.create_default_context(cafile=str(cert_path))
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(*args: Any) -> AuthResult:
        data = args[-1]
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret-pass")

    inbox = Inbox()
    port = free_port()
    options: dict[str, Any] = {"authenticator": authenticator}
    if security == "starttls":
        # No AUTH offered and no mail taken before the upgrade.
        options |= {"tls_context": server_tls, "require_starttls": True, "auth_require_tls": True}
    else:
        # TLS from the first byte; aiosmtpd does not see it as TLS, so AUTH is allowed as is.
        options |= {"ssl_context": server_tls, "auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        config = SmtpConfig(
            "127.0.0.1", port, security, "innsync", "s3cret-pass", "a@innsync.test", 5.0, client_tls
        )
        message = a_test_message(secret_box)
        send_email(config, "desk@hotel.test", message)
        # A server whose certificate the client does not trust is refused before any login.
        untrusted = replace(config, tls_context=ssl.create_default_context())
        with pytest.raises(NotificationSendError) as refused:
            send_email(untrusted, "desk@hotel.test", message)
    finally:
        controller.stop()
    assert [m["Subject"] for m in inbox.messages] == ["[innsync] test notification"]
    assert logins == [(b"innsync", b"s3cret-pass")]
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    assert "s3cret-pass" not in repr(config)


def a_test_message(box: SecretBox) -> Message:
    target = NotificationTarget(
        id=uuid.uuid4(), kind="email", name="desk", address_encrypted=box.encrypt("d@h.test")
    )
    return trial_message(target, T0)
