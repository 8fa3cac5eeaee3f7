"""One settings object, read from the environment (prefix ``INNSYNC_``); nothing else reads it."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from innsync.stay_dates import DATE_WINDOW_YEARS

DEFAULT_DATABASE_URL = "sqlite:///innsync.sqlite3"


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as ``INNSYNC_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="INNSYNC_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///file, postgresql+psycopg://..., mysql+pymysql://...",
    )
    secret_keys: SecretStr | None = Field(
        default=None,
        description=(
            "Comma-separated Fernet keys for secrets at rest; the first encrypts, all decrypt "
            "(rotation). When unset, a key file is created at INNSYNC_SECRET_KEY_FILE: set the "
            "keys explicitly when several hosts share a database."
        ),
    )
    secret_key_file: Path = Field(
        default=Path(".innsync-secret-key"),
        description="Where the generated key lives when INNSYNC_SECRET_KEYS is unset.",
    )
    log_level: str = "INFO"
    log_json: bool = True
    date_window_years: int = Field(
        default=DATE_WINDOW_YEARS,
        ge=1,
        le=100,
        description="Stay dates and date filters further than this many years from a "
        "property's today answer 422 (ARI and blocks keep to the property's horizon).",
    )
    max_request_bytes: int = Field(
        default=5 * 1024 * 1024,
        description="Largest request body the API accepts; larger ones answer 413.",
    )
    http_body_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A request body must have fully arrived this long after the request began; "
        "a slower one is answered 408 and its connection closed.",
    )
    http_header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A connection must send a request's complete headers this long after it "
        "opened (or after its previous answer); otherwise it is closed.",
    )
    http_keep_alive_seconds: int = Field(
        default=5, ge=1, description="An idle keep-alive connection is closed after this long."
    )
    http_max_concurrency: int = Field(
        default=1000,
        ge=1,
        description="Open connections (or requests in progress) per server process; past "
        "it, new requests are answered 503 at once. Keep it below the process's file limit.",
    )
    http_connections_per_address: int = Field(
        default=200,
        ge=0,
        description="Open connections from one peer address per server process; a new one "
        "past it is dropped at once, so one client cannot fill INNSYNC_HTTP_MAX_CONCURRENCY. "
        "0 turns this off: do that behind a reverse proxy (every connection is the proxy's).",
    )
    http_uploads_per_address: int = Field(
        default=100,
        ge=0,
        description="Requests with a body in progress from one client address; past it, "
        "429 at once and the connection closed (stalled uploads cannot pile up). 0 turns this "
        "off: do that behind a proxy that does not pass the client's address "
        "(uvicorn's FORWARDED_ALLOW_IPS).",
    )
    auth_failure_limit: int = Field(
        default=20,
        ge=0,
        description="Failed authentications one client address may make per "
        "INNSYNC_AUTH_FAILURE_WINDOW_SECONDS before it is answered 429; 0 turns this off.",
    )
    auth_failure_window_seconds: float = Field(default=60.0, gt=0)
    webhook_rejected_limit: int = Field(
        default=30,
        ge=0,
        description="Rejected webhook calls (failed verification) per connection, and per "
        "client address, per INNSYNC_WEBHOOK_REJECTED_WINDOW_SECONDS; past it, 429 and nothing "
        "is stored. 0 turns this off.",
    )
    webhook_rejected_window_seconds: float = Field(default=60.0, gt=0)
    webhook_rejected_body_bytes: int = Field(
        default=16_384,
        ge=0,
        description="How much of a rejected webhook's body is kept for audit.",
    )
    inbox_retention_days: float = Field(
        default=90.0,
        ge=0,
        description="Processed (applied, ignored) and rejected inbox items older than this are "
        "deleted by the background loops; pending and parked items are kept. 0 keeps all.",
    )
    sync_log_retention_days: float = Field(
        default=90.0,
        ge=0,
        description="Sync log rows (one per channel call, shadow ones included) older than "
        "this are deleted by the background loops. 0 keeps all.",
    )
    event_retention_days: float = Field(
        default=180.0,
        ge=0,
        description="PMS events older than this, sequenced and with no delivery pending, are "
        "deleted with their finished webhook deliveries by the background loops. 0 keeps all.",
    )
    background_loops: bool = Field(
        default=True, description="Run event sequencing and webhook delivery inside `serve`."
    )
    loop_interval_seconds: float = Field(
        default=1.0, description="How often the background loops look for work when idle."
    )
    public_url: str | None = Field(
        default=None,
        description="Where channels reach this innsync (e.g. https://innsync.example.com); "
        "used for webhook subscriptions. Unset: the URL the API was called on.",
    )
    webhook_timeout_seconds: float = 10.0
    channel_timeout_seconds: float = Field(
        default=30.0, description="Time-out of one request to a channel's API."
    )
    refresh_token_warning_days: float = Field(
        default=7.0,
        ge=0,
        description="Set a connection to needs_attention (with an event) this many days before "
        "its channel's refresh token lapses unused (Beds24: 30 days without a refresh).",
    )
    alert_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often the background loops evaluate the alert rules."
    )
    alert_sync_success_percent: float = Field(
        default=95.0,
        ge=0,
        le=100,
        description="Alert when a connection's accepted share of channel requests in an hour "
        "is below this percent (per tenant: innsync alerts threshold).",
    )
    alert_backlog_marks: int = Field(
        default=1000, ge=0, description="Alert when a tenant has more dirty marks waiting."
    )
    alert_channel_down_minutes: float = Field(
        default=5.0, ge=0, description="Alert when a channel has not answered for this long."
    )
    alert_conflict_percent: float = Field(
        default=10.0,
        ge=0,
        description="Alert when a day's conflicts exceed this percent of the day's bookings.",
    )
    alert_webhook_failures: int = Field(
        default=1,
        ge=1,
        description="Alert when this many PMS webhook deliveries of the last hour failed.",
    )
    alert_pull_failures: int = Field(
        default=3,
        ge=1,
        description="Alert when reading a connection's booking revisions failed this many "
        "times in a row.",
    )
    alert_marketplace_unconfirmed_minutes: float = Field(
        default=30.0,
        ge=0,
        description="Alert when a marketplace booking is still pending or pushed (the hotel has "
        "not confirmed it) this long after it was queued.",
    )
    ari_pull_interval_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="How often the ARI of a property whose ARI comes from a connection is "
        "pulled from it (repairs what a lost webhook left out).",
    )
    marketplace_push_attempts: int = Field(
        default=8,
        ge=1,
        description="Failed attempts after which a marketplace booking push is given up "
        "(failed, with the reason); a wait for the channel's quota is not an attempt.",
    )
    booking_status_interval_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How often the hotel's confirmation of a pushed marketplace booking is "
        "checked with its connection (when the channel has no confirmation callback).",
    )
    alert_backup_late_minutes: float = Field(
        default=0.0,
        ge=0,
        description="Alert when no scheduled backup succeeded for this long (minutes); 0: "
        "twice INNSYNC_BACKUP_SCHEDULE_MINUTES. Off while the backup schedule is off.",
    )
    alert_confirmation_minutes: float = Field(
        default=20.0,
        ge=0,
        description="Alert when a booking of a channel with a confirmation deadline "
        "(Booking.com's 30-minute e-mail fallback, Expedia's BC) is unacknowledged this long.",
    )
    alert_notify_window_minutes: float = Field(
        default=15.0,
        ge=0,
        description="Rate limit of alert notifications: per target and rule at most one per "
        "this many minutes; what happens in between is sent as one summary after it.",
    )
    alert_notify_max_attempts: int = Field(
        default=10, ge=1, description="Attempts to send one alert notification before giving up."
    )
    alert_smtp_host: str | None = Field(
        default=None, description="SMTP server for alert e-mails; unset: no e-mail targets."
    )
    alert_smtp_port: int = Field(default=587, ge=1, le=65535)
    alert_smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="starttls (upgrade a plain connection), tls (TLS from the first byte, "
        "usually port 465) or none (a local relay only).",
    )
    alert_smtp_user: str | None = None
    alert_smtp_password: SecretStr | None = None
    alert_smtp_from: str = Field(
        default="innsync@localhost", description="The From address of alert e-mails."
    )
    alert_smtp_timeout_seconds: float = Field(default=20.0, gt=0)
    sync_idle_seconds: float = Field(
        default=0.25, description="How long the sync worker waits when it found nothing to send."
    )
    sync_rates_burst_share: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description="Where rates have a request budget of their own (Channex), the share of it "
        "sent at once before the rest is spread over the window. 0 (the default): an even pace, "
        "a steady stream of price changes waits at most window / limit (6 s on Channex); 0.3: "
        "three changes in a row go at once, a steady stream waits up to 8.6 s. Availability "
        "always keeps a burst of 0.3.",
    )
    admin_cookie_secure: bool = Field(
        default=True,
        description="Send the admin pages' session cookie only over HTTPS. Turn off only to "
        "sign in over plain http on this machine (development).",
    )
    admin_session_hours: float = Field(
        default=12.0,
        gt=0,
        description="An admin sign-in session ends this long after it began (sign out ends it "
        "at once).",
    )
    admin_refresh_seconds: float = Field(
        default=15.0, gt=0, description="How often the admin dashboard refreshes its figures."
    )
    password_hash_time_cost: int = Field(
        default=3, ge=1, description="Argon2id passes over memory for admin passwords."
    )
    password_hash_memory_kib: int = Field(
        default=65536,
        ge=1024,
        description="Argon2id memory per password hash, KiB (default 64 MiB, RFC 9106). "
        "Stored hashes made at another cost are re-hashed at the next sign-in.",
    )
    password_hash_parallelism: int = Field(default=4, ge=1, description="Argon2id lanes.")
    login_failure_limit: int = Field(
        default=10,
        ge=0,
        description="Failed admin sign-ins per e-mail address per "
        "INNSYNC_AUTH_FAILURE_WINDOW_SECONDS before that address is refused for a while; 0 "
        "turns this off. Failures also count against the client's INNSYNC_AUTH_FAILURE_LIMIT.",
    )
    development_mode: bool = Field(
        default=False,
        description="Development and tests only: tenant URLs may reach loopback (simulators on "
        "this machine), channel base URLs may be overridden, and test-only channel kinds "
        "(`fake`) may be connected. Never on in production.",
    )
    outbound_allow_networks: str = Field(
        default="",
        description="Comma-separated CIDRs that tenant-influenced URLs (channel APIs, iCal "
        "feeds, PMS webhooks) may reach although they are not public (e.g. a PMS on "
        "10.20.0.0/16). Loopback is never opened this way.",
    )
    outbound_deny_networks: str = Field(
        default="",
        description="Comma-separated CIDRs refused on top of the built-in denials (private, "
        "loopback, link-local, metadata, unique-local…); wins over the allow list.",
    )
    channel_url_overrides: bool = Field(
        default=False,
        description="Let tenants give a channel's API URLs (base_url…) other than the kind's "
        "production and sandbox hosts. Off: such a config is refused with a 422.",
    )
    channel_url_allowlist: str = Field(
        default="",
        description="Comma-separated URL prefixes tenants may give as channel API URLs beyond "
        "the kind's own hosts (e.g. https://channex-proxy.example.com/).",
    )
    octorate_client_id: str | None = Field(
        default=None,
        description="The marketplace's Octorate app (issued once by Octorate, never per hotel): "
        "its client id. Unset: hotels cannot connect by OAuth.",
    )
    octorate_client_secret: SecretStr = Field(
        default=SecretStr(""), description="The Octorate app's client secret."
    )
    octorate_api_root: str = Field(
        default="https://api.octorate.com/connect",
        description="Octorate's Connect API root (up to /connect); a simulator's in development.",
    )
    octorate_authorize_url: str = Field(
        default="https://admin.octorate.com/octobook/identity/oauth.xhtml",
        description="Octorate's authorization page, where a hotel approves the app.",
    )
    octorate_oauth_state_seconds: float = Field(
        default=600.0,
        gt=0,
        le=3600,
        description="How long a hotel has to approve the app once the connect step started.",
    )

    backup_key: SecretStr | None = Field(
        default=None,
        description=(
            "Key backups are encrypted with (`innsync backup key` makes one); never one of the "
            "INNSYNC_SECRET_KEYS, and kept somewhere the backups are not."
        ),
    )
    backup_dir: Path = Field(
        default=Path("backups"), description="The local directory backups are stored in."
    )
    backup_s3_bucket: str | None = Field(
        default=None,
        description="Keep backups in this S3-compatible bucket instead of INNSYNC_BACKUP_DIR.",
    )
    backup_s3_prefix: str = Field(default="innsync", description="Folder inside the bucket.")
    backup_s3_endpoint_url: str | None = Field(
        default=None, description="For S3-compatible servers (MinIO, Ceph…); unset: AWS."
    )
    backup_s3_region: str | None = None
    backup_s3_access_key_id: str | None = Field(
        default=None, description="Unset: boto3's usual sources (environment, profile, role)."
    )
    backup_s3_secret_access_key: SecretStr | None = None
    backup_schedule_minutes: int = Field(
        default=60,
        description="Minutes between scheduled backups by the background loops; 0 turns the "
        "schedule off. Nothing is scheduled while INNSYNC_BACKUP_KEY is unset.",
    )
    backup_native_dumps: bool = Field(
        default=False,
        description="Back up PostgreSQL with pg_dump and MariaDB with mariadb-dump where those "
        "tools are installed. Such a backup restores only into the same kind of database; off, "
        "every backup is in the portable format, which restores into any of them.",
    )
    backup_verify_scheduled: bool = Field(
        default=True, description="Verify every scheduled backup by restoring it to a scratch copy."
    )
    operator_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the installation's operator for /api/v1/backups; tenant "
        "API keys are never accepted there. Unset: those endpoints answer 403.",
    )
    backup_keep_hourly: int = 24
    backup_keep_daily: int = 14
    backup_keep_weekly: int = 8
    webhook_max_attempts: int = Field(
        default=20,
        description="Attempts per delivery (backoff from 10 s doubling to 6 h: about 2.5 days).",
    )

    @field_validator("outbound_allow_networks", "outbound_deny_networks")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        for item in _items(value):
            ipaddress.ip_network(item, strict=False)  # a typo fails at start, not at a call
        return value

    def listed(self, value: str) -> tuple[str, ...]:
        """The items of a comma-separated setting."""
        return _items(value)


def _items(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use (never at import time)."""
    return Settings()
