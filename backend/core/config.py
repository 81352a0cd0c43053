"""Every setting of Vigil, read once from the environment and `.env` (prefix `VIGIL_`).

`backend/.env.example` lists each of them with a comment; keep the two in step.
"""

from __future__ import annotations

import ipaddress
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BACKEND_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BACKEND_DIR.parent

# A key that is fine for a laptop and refused in production.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789abcdef"  # noqa: S105


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


def _split_list(value: object) -> object:
    """Accept a JSON list or a comma-separated string for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIGIL_",
        env_file=(REPO_DIR / ".env", BACKEND_DIR / ".env"),
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,
    )

    # --- application ---
    env: Environment = Environment.development
    app_name: str = "Vigil"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)
    log_level: str = "INFO"
    log_json: bool | None = None  # default: JSON lines in production, text elsewhere
    # One line per request. Default: on in development, off in production, where the load
    # balancer logs access and /metrics counts requests (the line costs ~10 µs a request).
    access_log: bool | None = None

    # --- HTTP ---
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    gzip_min_bytes: int = Field(default=1000, ge=0)

    # --- database ---
    database_url: str = f"sqlite+aiosqlite:///{REPO_DIR / 'var' / 'vigil.db'}"
    migration_database_url: str | None = None  # owner role for migrations; default database_url
    # PostgreSQL role the API connects as (owns no table); migrations grant it its privileges.
    database_app_role: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    db_pool_recycle: int = Field(default=1800, ge=-1)
    db_echo: bool = False
    # Test each pooled connection with a round trip before use. Off by default: it costs a
    # round trip per request, and a connection broken by a database restart is detected on
    # first use anyway (that request fails and the pool is refreshed).
    db_pool_pre_ping: bool = False
    migrate_on_start: bool = False

    # --- cache, rate limits, jobs ---
    redis_url: str | None = None
    redis_key_prefix: str = "vigil:"
    workers_in_process: bool = True
    worker_poll_seconds: float = Field(default=2.0, gt=0)

    # --- identity ---
    jwt_issuer: str = "vigil"
    jwt_audience: str = "vigil-api"
    access_token_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_idle_days: int = Field(default=14, ge=1)
    refresh_token_absolute_days: int = Field(default=30, ge=1)
    password_reset_minutes: int = Field(default=60, ge=5, le=60)
    invitation_days: int = Field(default=7, ge=1, le=30)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    # Login attempts per client address (all attempts) and wrong passwords per account.
    login_limit_per_ip: str = "30/minute"
    login_failures_per_account: str = "10/15 minutes"

    # --- email ---
    email_backend: Literal["auto", "smtp", "sendgrid", "outbox"] = "auto"
    email_from: str = "Vigil <no-reply@vigil.localhost>"
    email_outbox_dir: Path = REPO_DIR / "var" / "outbox"
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_timeout: float = Field(default=15.0, gt=0)
    sendgrid_api_key: SecretStr | None = None
    # Whether what companies configure (sending profiles, site imports) may reach private,
    # loopback or link-local addresses (our own network). Default: only outside production.
    allow_private_network_targets: bool | None = None

    # --- phishing simulations ---
    # Base of the tracking links put into simulation emails (a separate, neutral-looking
    # domain is usual); default: public_url.
    phishing_base_url: str | None = None
    # The header that lets our report endpoint recognise our own simulations. Its value is
    # the recipient's opaque token; pick a name that does not give the exercise away.
    phishing_report_header: str = Field(default="X-Mail-Ref", pattern=r"^[A-Za-z0-9-]{1,64}$")
    # Largest reported message `POST /phishing/reports` accepts (and keeps), in bytes.
    phishing_report_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024, le=50 * 1024 * 1024)
    send_batch_size: int = Field(default=100, ge=1, le=5000)
    send_lease_seconds: int = Field(default=300, ge=10)
    send_max_attempts: int = Field(default=5, ge=1, le=50)
    send_retry_seconds: int = Field(default=60, ge=1)  # first retry; doubles each time
    send_poll_seconds: float = Field(default=1.0, gt=0)
    send_connections: int = Field(default=2, ge=1, le=20)  # per profile and worker
    # Tracking: events this soon after delivery, from these networks, or from these user
    # agents are kept but marked as suspected automation (mail scanners, link previews).
    phishing_scanner_seconds: int = Field(default=10, ge=0, le=3600)
    phishing_scanner_networks: list[str] = Field(default_factory=list)
    phishing_scanner_user_agents: list[str] = Field(default_factory=list)
    phishing_submit_max_bytes: int = Field(default=64 * 1024, ge=1024)
    remediation_due_days: int = Field(default=14, ge=1, le=365)
    # --- live event stream (WS /phishing/campaigns/{id}/live) ---
    # A heartbeat message every this many seconds; the caller's credential and access to the
    # campaign are checked again at each one, so an expired token or a disabled user ends
    # the stream within this time.
    live_heartbeat_seconds: float = Field(default=25.0, gt=0, le=300)
    # Events held for one client that reads slower than they happen; past this the client
    # is disconnected (close code 4429) rather than buffered without limit.
    live_buffer_events: int = Field(default=1000, ge=1, le=100_000)
    # --- outgoing webhooks ---
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Attempts per event and endpoint before a delivery is abandoned; retries wait
    # base * 2^(n-1) seconds (± 25 % jitter), at most `webhook_retry_max_seconds`.
    webhook_max_attempts: int = Field(default=15, ge=1, le=50)
    webhook_retry_base_seconds: float = Field(default=30.0, gt=0)
    webhook_retry_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    # An endpoint is disabled (and the company's admins emailed) after this many failed
    # attempts in a row, or after failing without a success for this many hours.
    webhook_disable_after_failures: int = Field(default=15, ge=1)
    webhook_disable_after_hours: float = Field(default=24.0, gt=0)
    # --- training campaigns ---
    # One pass: start due campaigns, enroll people who joined a group, plan and send due
    # reminders. Reminders retry temporary failures after `retry` seconds, doubling.
    training_poll_seconds: float = Field(default=60.0, gt=0)
    training_reminder_batch_size: int = Field(default=200, ge=1, le=5000)
    training_reminder_lease_seconds: int = Field(default=600, ge=10)
    training_reminder_max_attempts: int = Field(default=8, ge=1, le=50)
    training_reminder_retry_seconds: int = Field(default=300, ge=1)

    # --- file storage ---
    storage_backend: Literal["local", "s3"] = "local"
    storage_local_path: Path = REPO_DIR / "var" / "storage"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None  # for S3-compatible stores (MinIO, Ceph, …)
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    download_url_seconds: int = Field(default=300, ge=10, le=86_400)

    # --- monitoring ---
    sentry_dsn: SecretStr | None = None
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0, le=1)
    # FastAPI's native OpenTelemetry (spans, metrics, logs to the global OTel providers).
    # Off unless you run a collector: when on, FastAPI checks the providers on every
    # request, ~10% of the tracking pixel's CPU time.
    opentelemetry: bool = False
    metrics_enabled: bool = True

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("login_limit_per_ip", "login_failures_per_account")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        parse(value)  # raises ValueError on nonsense
        return value

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_origin(cls, value: list[str]) -> list[str]:
        if "*" in value:
            raise ValueError("CORS origins must be listed explicitly; '*' is not allowed")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # raises ValueError on nonsense
        return value

    @field_validator(
        "redis_url",
        "sentry_dsn",
        "migration_database_url",
        "smtp_host",
        "smtp_username",
        "smtp_password",
        "sendgrid_api_key",
        "s3_bucket",
        "s3_endpoint_url",
        "s3_access_key_id",
        "s3_secret_access_key",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _production_needs_real_secret(self) -> Settings:
        if self.env is Environment.production:
            key = self.secret_key.get_secret_value()
            if key == DEV_SECRET_KEY or len(key) < 32:
                raise ValueError(
                    "VIGIL_SECRET_KEY must be set to a random value of at least 32 characters in "
                    "production, e.g. from "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def json_logs(self) -> bool:
        return self.is_production if self.log_json is None else self.log_json

    @property
    def access_log_enabled(self) -> bool:
        if self.access_log is None:
            return self.env is Environment.development
        return self.access_log

    @property
    def tracking_base_url(self) -> str:
        return (self.phishing_base_url or self.public_url).rstrip("/")

    @property
    def private_targets_allowed(self) -> bool:
        if self.allow_private_network_targets is None:
            return not self.is_production
        return self.allow_private_network_targets

    @property
    def effective_migration_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def database_backend(self) -> Literal["sqlite", "postgresql"]:
        return "sqlite" if self.is_sqlite else "postgresql"


settings = Settings()
