"""How a notification leaves: e-mail over SMTP (stdlib ``smtplib``; STARTTLS, TLS or a plain
local relay), a signed webhook (the PMS webhooks' signature scheme) and a Slack-compatible
incoming webhook (``{"text": ...}``). URLs go through clients held to the outbound policy.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from innsync.events.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_header
from innsync.settings import Settings

NOTIFICATION_ID_HEADER = "Innsync-Notification-Id"


class NotificationSendError(Exception):
    """A notification did not leave; the message is safe to store and show the tenant."""


@dataclass(frozen=True)
class SmtpConfig:
    """The operator's SMTP server for alert e-mails (never a tenant's)."""

    host: str
    port: int
    security: str  # "starttls" | "tls" | "none"
    user: str | None
    password: str | None
    sender: str
    timeout: float
    # Tests trust their own server's certificate; None: the system's trust store.
    tls_context: ssl.SSLContext | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        if not settings.alert_smtp_host:
            return None
        password = settings.alert_smtp_password
        return cls(
            host=settings.alert_smtp_host,
            port=settings.alert_smtp_port,
            security=settings.alert_smtp_security,
            user=settings.alert_smtp_user,
            password=None if password is None else password.get_secret_value(),
            sender=settings.alert_smtp_from,
            timeout=settings.alert_smtp_timeout_seconds,
        )

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"SmtpConfig(host={self.host!r}, port={self.port}, security={self.security!r})"


@dataclass(frozen=True)
class Message:
    """One notification's content, the same for every kind of target."""

    notification_id: int
    subject: str
    text: str
    document: dict[str, Any]


def send_email(config: SmtpConfig | None, to: str, message: Message) -> None:
    if config is None:
        raise NotificationSendError("e-mail is not configured here (INNSYNC_ALERT_SMTP_HOST)")
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = config.sender, to, message.subject
    mail.set_content(message.text)
    context = config.tls_context or ssl.create_default_context()
    try:
        smtp = (
            smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
            if config.security == "tls"
            else smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        )
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=context)
            if config.user:
                smtp.login(config.user, config.password or "")
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:
        # The operator's own server: its answer helps and holds no tenant's secret.
        raise NotificationSendError(f"SMTP: {type(exc).__name__}: {exc}"[:400]) from exc


def post_webhook(client: httpx.Client, url: str, secret: str, message: Message, now: int) -> None:
    """POST the document signed like PMS webhooks: ``Innsync-Signature: v1=<HMAC-SHA256 of
    "<timestamp>.<body>">`` with ``Innsync-Timestamp``."""
    body = json.dumps(message.document, separators=(",", ":"), default=str).encode()
    headers = {
        "Content-Type": "application/json",
        NOTIFICATION_ID_HEADER: str(message.notification_id),
        TIMESTAMP_HEADER: str(now),
        SIGNATURE_HEADER: signature_header(secret, now, body),
    }
    _post(client, url, body, headers)


def post_slack(client: httpx.Client, url: str, message: Message) -> None:
    """Slack (and Mattermost, Rocket.Chat...) incoming webhooks take ``{"text": ...}``."""
    body = json.dumps({"text": f"*{message.subject}*\n{message.text}"}).encode()
    _post(client, url, body, {"Content-Type": "application/json"})


def _post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> None:
    try:
        response = client.post(url, content=body, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        # One text whatever happened, as for PMS webhooks: a tenant must not learn which
        # addresses answer by adding targets (the operator's log has the detail).
        raise NotificationSendError("the URL did not answer with a 2xx status") from exc
    if not 200 <= response.status_code < 300:
        raise NotificationSendError("the URL did not answer with a 2xx status")
