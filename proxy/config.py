"""One settings model for the whole proxy: embedded defaults, then the TOML file, then
``INTENTGATE_*`` environment variables, then command-line flags.

Read once at startup and turned into ready objects by ``proxy.app``; nothing downstream re-reads
settings, and no other module reads ``os.environ``. A bad value raises ``ConfigError`` with one
line naming the field and the value (the CLI prints it and exits 2).
"""

from __future__ import annotations

import os
import tomllib
from ipaddress import ip_network
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ENV_PREFIX = "INTENTGATE_"
# Settings handed to worker processes (uvicorn --workers re-imports the app factory).
HANDOFF_ENV = "INTENTGATE__HANDOFF"


class ConfigError(ValueError):
    """A setting is invalid; ``str(exc)`` is one line naming the field and the value."""


MIN_TOKEN_CHARS = 24


class AdminTokenSpec(BaseModel):
    """One named admin token: ``token`` or its hex ``sha256``, and a role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    role: Literal["read", "write"] = "read"
    token: str | None = None
    sha256: str | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> AdminTokenSpec:
        if (self.token is None) == (self.sha256 is None):
            raise ValueError(f"token {self.name!r} needs exactly one of token or sha256")
        if self.token is not None:
            _check_token_text(self.token)
        if self.sha256 is not None:
            _check_sha256(self.sha256)
        return self


def _check_token_text(v: str) -> None:
    if len(v) < MIN_TOKEN_CHARS:
        raise ValueError(f"a token must be at least {MIN_TOKEN_CHARS} characters (got {len(v)}"
                         "); make one: python3 -c 'import secrets; print(secrets.token_urlsafe"
                         "(32))'")
    if not v.isascii() or not v.isprintable() or " " in v:
        raise ValueError("a token must be printable ASCII without spaces")


def _check_sha256(v: str) -> None:
    if len(v) != 64 or any(c not in "0123456789abcdefABCDEF" for c in v):
        raise ValueError("must be 64 hex digits (sha256sum of the token)")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Where to forward.
    upstream: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=256)
    preserve_host: bool = True
    trusted_hops: tuple[str, ...] = ()
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=0)
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    pool_timeout: float = Field(5.0, gt=0)
    pool_size: int = Field(256, ge=1)
    # Server limits (uvicorn + our hardened protocol).
    max_header_bytes: int = Field(32 * 1024, ge=1024)
    header_timeout: float = Field(10.0, gt=0)
    keepalive_timeout: float = Field(5.0, gt=0)
    limit_concurrency: int = Field(1000, ge=1)
    graceful_timeout: float = Field(10.0, ge=0)

    # Headers.
    header_prefix: str = "X-Intent-"
    identify_header: str = "X-Intent-Identify"
    expose_headers: bool = False
    top_signals: int = Field(3, ge=1, le=16)
    # Hysteresis: a session keeps its class until another is nearer by this fraction of the
    # distance (0 = switch as soon as another class is nearer); docs/classes-and-explanations.md.
    class_switch_margin: float = Field(0.25, ge=0.0, lt=1.0)

    # Identity.
    secret: str | None = None
    data_dir: str = ".intentgate"
    session_cookie: str = "ig_sid"
    device_cookie: str = "ig_did"
    profile_cookie: str = "ig_pid"
    session_ttl: float = Field(1800.0, gt=0)
    device_ttl: float = Field(400 * 86400.0, gt=0)

    # Signals.
    preset: str = "auto"
    rules: tuple[dict[str, Any], ...] = ()
    half_life: float = Field(600.0, gt=0)
    dwell_cap: float = Field(300.0, gt=0)
    bot_max_rate: float = Field(120.0, gt=0)
    record_events: bool = False
    record_dir: str | None = None
    record_query_text: bool = True  # search terms in recorded events (off: dropped)
    record_max_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    record_keep: int = Field(10, ge=1)
    # Read the markup (schema.org, og:type) of a few HTML answers of unmatched pages as evidence
    # for the suggested rules (api/routes/unmatched); off by default.
    sniff_page_types: bool = False

    # Store.
    store: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "ig"
    memory_capacity: int = Field(200_000, ge=1)
    profile_ttl: float = Field(30 * 86400.0, gt=0)
    merge_undo_ttl: float = Field(7 * 86400.0, gt=0)  # how long an identify merge can be undone
    redis_timeout_ms: float = Field(50.0, gt=0, le=10_000)  # connect and socket deadlines
    redis_flush_ms: float = Field(5.0, gt=0, le=10_000)  # write-behind coalescing interval
    redis_refresh_s: float = Field(10.0, gt=0)  # re-read a local profile older than this
    redis_backlog: int = Field(100_000, ge=1)  # dirty profiles kept while Redis is away

    # Classification.
    model: str | None = None
    model_dir: str | None = None
    min_events: int = Field(3, ge=0)
    budget_ms: float = Field(2.0, gt=0)

    # Admin surface and audit log.
    admin_token: str | None = None
    # Its own listener, allow-list and role tokens (docs/admin.md; checks in proxy/admin/auth).
    admin_listen: str | None = None  # "host:port" or "public"; unset: serve uses 127.0.0.1:9180
    admin_allow: tuple[str, ...] = ()  # addresses/CIDRs that may reach admin; empty: any
    admin_token_sha256: str | None = None  # hex SHA-256 of the token, instead of admin_token
    admin_tokens: tuple[AdminTokenSpec, ...] = ()  # named tokens with roles read/write
    audit: bool = True
    audit_sample_rate: float = Field(0.01, ge=0.0, le=1.0)  # unchanged decisions recorded
    audit_queue: int = Field(10_000, ge=1)
    audit_dir: str | None = None
    audit_max_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    audit_keep: int = Field(10, ge=1)
    audit_retention_days: float = Field(30.0, gt=0)
    audit_stream_maxlen: int = Field(100_000, ge=1)

    # Experiments: holdout cohorts and lift by class (docs/experiments.md). Off while
    # holdout_share is 0; the salt defaults to the name, so a new name reshuffles the groups.
    experiment: str = Field("default", pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    experiment_salt: str | None = Field(None, min_length=1, max_length=128)
    holdout_share: float = Field(0.0, ge=0.0, le=0.5)
    # Class-change export (docs/experiments.md): any of three sinks, each with its own buffer.
    export_stream: bool = False  # Redis Stream <redis_prefix>:export (store = redis)
    export_stream_maxlen: int = Field(100_000, ge=100)
    export_webhook: str | None = Field(None, pattern=r"^https?://[^\s]+$")
    export_webhook_token: str | None = None
    export_audit: bool = False  # beside the decisions in the audit log
    export_batch: int = Field(100, ge=1, le=10_000)
    export_buffer: int = Field(10_000, ge=1)  # records per sink; more are dropped and counted
    export_retry_max_s: float = Field(30.0, gt=0)  # backoff ceiling between retries

    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    passthrough: bool = False

    @field_validator("upstream")
    @classmethod
    def _check_upstream(cls, v: str | None) -> str | None:
        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment")
        return v.rstrip("/")

    @field_validator("header_prefix", "identify_header")
    @classmethod
    def _check_header_name(cls, v: str) -> str:
        if not v or any(c in v for c in " \t\r\n:;,\"") or not v.isascii():
            raise ValueError("must be a plain ASCII header token")
        return v

    @field_validator("session_cookie", "device_cookie", "profile_cookie")
    @classmethod
    def _check_cookie_name(cls, v: str) -> str:
        if not v or not v.isascii() or any(c in v for c in " \t\r\n=;,\""):
            raise ValueError("must be a plain ASCII cookie name")
        return v

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, v: str | None) -> str | None:
        if v is not None and len(v.encode()) < 16:
            raise ValueError("must be at least 16 bytes")
        return v

    @field_validator("admin_token")
    @classmethod
    def _check_admin_token(cls, v: str | None) -> str | None:
        if v is not None:
            _check_token_text(v)
        return v

    @field_validator("admin_token_sha256")
    @classmethod
    def _check_admin_token_sha256(cls, v: str | None) -> str | None:
        if v is not None:
            _check_sha256(v)
        return v.lower() if v is not None else v

    @field_validator("admin_tokens", mode="before")
    @classmethod
    def _parse_admin_tokens(cls, v: Any) -> Any:
        # Environment form: "name:role:token" or "name:role:sha256:<hex>", comma-separated.
        if not isinstance(v, str):
            return v
        out = []
        for item in (p.strip() for p in v.split(",")):
            if not item:
                continue
            name, _, rest = item.partition(":")
            role, _, secret = rest.partition(":")
            kind, _, digest = secret.partition(":")
            key = "sha256" if kind == "sha256" and digest else "token"
            out.append({"name": name, "role": role, key: digest if key == "sha256" else secret})
        return tuple(out)

    @field_validator("admin_listen")
    @classmethod
    def _check_admin_listen(cls, v: str | None) -> str | None:
        if v is None or v == "public":
            return v
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError('must be "host:port" (e.g. 127.0.0.1:9180) or "public"')
        return v

    @field_validator("admin_allow")
    @classmethod
    def _check_networks(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            try:
                ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR") from None
        return v

    @model_validator(mode="after")
    def _check_admin(self) -> Settings:
        if self.admin_token is not None and self.admin_token_sha256 is not None:
            raise ValueError("set admin_token or admin_token_sha256, not both")
        names = [t.name for t in self.admin_tokens]
        if len(set(names)) != len(names):
            raise ValueError("admin_tokens: each token needs its own name")
        listen = self.admin_listen
        if listen not in (None, "public") and self.port and listen.rpartition(":")[2] == str(
                self.port):
            raise ValueError(f"admin_listen={listen!r} must not use the public port {self.port}")
        return self

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, v: str) -> str:
        if urlsplit(v).scheme not in ("redis", "rediss", "unix", "redis+cluster"):
            raise ValueError("must be a redis://, rediss://, unix:// or redis+cluster:// URL")
        return v

    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()


_FIELDS = Settings.model_fields
_SECRET_FIELDS = frozenset({"secret", "admin_token", "admin_tokens"})
_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def _env_value(name: str, raw: str) -> Any:
    """Turn an environment string into the field's shape (bools and lists need help)."""
    annotation = _FIELDS[name].annotation
    if annotation is bool:
        low = raw.strip().lower()
        if low in _BOOL_TRUE:
            return True
        if low in _BOOL_FALSE:
            return False
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r}: expected true or false")
    if get_origin(annotation) is tuple and get_args(annotation)[0] is str:
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    return raw


def _one_line(exc: ValidationError, values: dict[str, Any]) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "settings"
    field = str(err["loc"][0]) if err["loc"] else ""
    if err["type"] == "extra_forbidden":
        return f"unknown setting {loc!r}"
    msg = err["msg"]
    if err["type"] == "value_error" and "error" in err.get("ctx", {}):
        msg = str(err["ctx"]["error"])  # our own words, without pydantic's "Value error, "
    if field in _SECRET_FIELDS or not field:  # never echo a secret into a log
        return f"invalid {loc}: {msg}"
    shown = values.get(field, err.get("input"))
    return f"invalid {loc}={shown!r}: {msg}"


def load_settings(
    *,
    config_file: str | os.PathLike[str] | None = None,
    environ: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Merge defaults < file < environment < overrides (CLI flags) and validate once."""
    values: dict[str, Any] = {}
    if config_file is not None:
        path = Path(config_file)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {str(path)!r} not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
        # The file may group settings in tables ([proxy], [signals], ...): flatten one level.
        for key, value in data.items():
            if isinstance(value, dict) and key not in _FIELDS:
                values.update(value)
            else:
                values[key] = value
    env = os.environ if environ is None else environ
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX) or key.startswith(ENV_PREFIX + "_"):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in _FIELDS:
            continue  # other tools' INTENTGATE_* variables are not ours to reject
        values[name] = _env_value(name, raw)
    if overrides:
        values.update({k: v for k, v in overrides.items() if v is not None})
    if "rules" in values and isinstance(values["rules"], list):
        values["rules"] = tuple(values["rules"])
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc, values)) from None


def handoff(settings: Settings) -> str:
    """Serialise settings for worker processes (read back by ``from_handoff``)."""
    return settings.model_dump_json()


def from_handoff(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    raw = env.get(HANDOFF_ENV)
    if raw is None:
        return load_settings(environ=dict(env))
    return Settings.model_validate_json(raw)
