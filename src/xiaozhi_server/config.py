"""Settings: a YAML file plus ``XIAOZHI_<SECTION>__<KEY>`` environment overrides.

Where the file comes from: ``--config PATH``, else ``$XIAOZHI_CONFIG``, else
``./config/xiaozhi-server.yaml`` if it exists, else built-in defaults.
Every section forbids unknown keys so that a typo is an error, not a silent default; keys
of older versions are carried forward first, with a warning (config_migrations.py).
"""

from __future__ import annotations

import logging
import os
import zoneinfo
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from xiaozhi_server.auth.roles import Role
from xiaozhi_server.config_migrations import (
    MigrationError,
    migrate_environment,
    migrate_file,
    retired_hint,
)
from xiaozhi_server.privacy.masking import MaskKind

DEFAULT_CONFIG_PATH = Path("config/xiaozhi-server.yaml")
DEFAULT_STORAGE_URL = "sqlite+aiosqlite:///./data/xiaozhi-server.db"

# The async driver used when a URL names only the database kind.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "mysql": "mysql+asyncmy",
    "mariadb": "mysql+asyncmy",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}
_SUPPORTED_DRIVERS = {"sqlite+aiosqlite", "mysql+asyncmy", "postgresql+asyncpg"}
# Keys whose values are never shown (any key ending in "url" has its password masked).
SECRET_KEYS = {"password", "report_secret", "api_tokens", "admin_password", "url", "redis_url"}


class ConfigError(Exception):
    """A settings file or environment override that cannot be used; the message says why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8004, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    # processes answering on the port (the feed's fan-out uses one core per process)
    workers: int = Field(1, ge=1, le=64)


class StorageSettings(_Section):
    url: str = Field(DEFAULT_STORAGE_URL, repr=False)
    auto_migrate: bool = True
    # SQLite only: where serve and sync run the one writer (a process uses a second core).
    sqlite_writer: Literal["process", "thread"] = "process"

    @field_validator("url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalise_storage_url(value)


class UpstreamDbSettings(_Section):
    host: str = "xiaozhi-esp32-server-db"
    port: int = Field(3306, ge=1, le=65535)
    user: str = "root"
    password: SecretStr = SecretStr("")
    database: str = "xiaozhi_esp32_server"


class Esp32ServerSettings(_Section):
    manager_api_url: str | None = None
    db: UpstreamDbSettings = Field(default_factory=UpstreamDbSettings)
    db_timezone: str = "Asia/Shanghai"
    timeout: float = Field(30.0, gt=0)
    # the longest an upstream query may run (a long scan); a stall is sync_service.stall_timeout
    query_timeout: float = Field(300.0, gt=0)
    max_retries: int = Field(3, ge=0)
    max_connections: int = Field(100, ge=1)

    @field_validator("manager_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
            raise ValueError("expected an http:// or https:// URL such as http://host:8002/xiaozhi")
        return value.rstrip("/")

    @field_validator("db_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone name such as Asia/Shanghai") from exc
        return value


class CaptureSettings(_Section):
    prefix: str = "/xiaozhi"
    max_audio_bytes: int = Field(10 * 1024 * 1024, gt=0)
    max_content_chars: int = Field(65536, gt=0)
    # audio opt-out (privacy/audio_policy.py): text is always kept, audio bytes only if allowed
    store_audio: bool = True
    store_audio_agents: dict[str, bool] = {}

    @field_validator("store_audio_agents")
    @classmethod
    def _agent_ids(cls, value: dict[str, bool]) -> dict[str, bool]:
        return {_agent_key(key): allowed for key, allowed in value.items()}

    @field_validator("prefix")
    @classmethod
    def _path_prefix(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("expected a path starting with '/', such as /xiaozhi")
        return value.rstrip("/")


class SyncServiceSettings(_Section):
    enabled: bool = False
    mode: Literal["poll", "binlog"] = "poll"
    interval: float = Field(30.0, gt=0)
    batch_size: int = Field(500, ge=1, le=100_000)
    max_retry_attempts: int = Field(3, ge=0)
    on_delete: Literal["archive", "mirror"] = "archive"
    fallback_to_poll: bool = True
    update_overlap_seconds: float = Field(30.0, ge=0)
    reconcile_interval: float = Field(300.0, gt=0)
    # binlog mode: the replica id this reader registers with (unique among the upstream's
    # replicas) and how often an idle upstream must prove the stream is alive
    binlog_server_id: int = Field(7_400_001, ge=1, le=2**32 - 1)
    binlog_heartbeat_seconds: float = Field(5.0, ge=0.5, le=3600)
    # an upstream silent this long (a connection not completed, a query with no reply while
    # a probe on a second connection gets none either) is stalled: a failure, not a wait
    stall_timeout: float = Field(10.0, gt=0, le=3600)


class NotificationSettings(_Section):
    enabled: bool = True
    max_subscribers: int = Field(100, ge=1)
    queue_size: int = Field(1000, ge=1)
    heartbeat_seconds: float = Field(20.0, gt=0)
    redis_url: str | None = Field(None, repr=False)
    # pages of other origins allowed to open /ws/admin (the hub's own always may)
    allowed_origins: list[str] = []

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            scheme, _, rest = origin.partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest.rstrip("/"):
                raise ValueError(
                    f"{origin!r} is not an origin; expected scheme://host[:port] "
                    "such as https://console.example.com"
                )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis:// URL such as redis://127.0.0.1:6379/0")
        return value or None


class ApiToken(_Section):
    """A token with its role (a plain string in ``api_tokens`` is an admin's token)."""

    token: SecretStr
    role: Role
    name: str | None = Field(None, min_length=1, max_length=64, description="shown in the audit")

    @field_validator("token")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("a token must not be empty")
        return value


class AuthSettings(_Section):
    report_secret: SecretStr | None = None
    admin_username: str = Field("admin", min_length=1)
    admin_password: SecretStr | None = None
    # a plain string is an admin's token (as before roles); {token, role, name} names a role
    api_tokens: list[SecretStr | ApiToken] = []
    # wrong passwords allowed before a name / an address is locked (1 s, doubling to 15 min)
    failed_sign_ins_per_user: int = Field(5, ge=1, le=1000)
    failed_sign_ins_per_address: int = Field(20, ge=1, le=100_000)

    @field_validator("api_tokens")
    @classmethod
    def _distinct(cls, value: list[SecretStr | ApiToken]) -> list[SecretStr | ApiToken]:
        secrets = [token_secret(item) for item in value]
        if len(set(secrets)) != len(secrets):
            raise ValueError("the same token is listed twice (each token has one role)")
        return value


def token_secret(item: SecretStr | ApiToken) -> str:
    """The secret of an ``auth.api_tokens`` entry, whichever form it has."""
    return (item.token if isinstance(item, ApiToken) else item).get_secret_value()


class PrivacySettings(_Section):
    # what the console, the API, the feed and exports star out (privacy/masking.py)
    mask: list[MaskKind] = []


class RetentionRule(_Section):
    """An override for one agent or device; a key left out inherits, null keeps for ever."""

    messages_days: int | None = None
    audio_days: int | None = None

    @field_validator("messages_days", "audio_days")
    @classmethod
    def _days(cls, value: int | None) -> int | None:
        return _retention_days(value)

    @model_serializer(mode="wrap")
    def _only_what_is_set(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # a key left out inherits: shown (config show) as absent, never as null (for ever)
        shown: dict[str, Any] = handler(self)
        return {key: value for key, value in shown.items() if key in self.model_fields_set}


class RetentionSettings(_Section):
    # null (or absent) keeps for ever; overrides per agent and per device (privacy/policy.py)
    messages_days: int | None = None
    audio_days: int | None = None
    agents: dict[str, RetentionRule] = {}
    devices: dict[str, RetentionRule] = {}
    interval: float = Field(3600.0, gt=0)
    batch_size: int = Field(200, ge=1, le=100_000)

    @field_validator("messages_days", "audio_days")
    @classmethod
    def _days(cls, value: int | None) -> int | None:
        return _retention_days(value)

    @field_validator("agents")
    @classmethod
    def _agent_ids(cls, value: dict[str, RetentionRule]) -> dict[str, RetentionRule]:
        return {_agent_key(key): rule for key, rule in value.items()}

    @field_validator("agents", "devices", mode="before")
    @classmethod
    def _text_keys(cls, value: object) -> object:
        for key in value if isinstance(value, dict) else ():
            if not isinstance(key, str):
                # YAML reads an unquoted 10:20:30:40:50:59 as a base-60 number
                raise ValueError(f"key {key!r} must be quoted text, such as 'a0:85:e3:00:00:01'")
        return value

    @field_validator("devices")
    @classmethod
    def _device_ids(cls, value: dict[str, RetentionRule]) -> dict[str, RetentionRule]:
        from xiaozhi_server.ingest.normalise import normalise_device

        rules: dict[str, RetentionRule] = {}
        for key, rule in value.items():
            mac = normalise_device(key)
            if not mac or len(mac) > 64:
                raise ValueError(f"{key!r} is not a device MAC such as a0:85:e3:00:00:01")
            if mac in rules:
                raise ValueError(f"{key!r} names the same device as another key ({mac})")
            rules[mac] = rule
        return rules

    @property
    def configured(self) -> bool:
        """True when any rule can delete something."""
        days = [self.messages_days, self.audio_days]
        for rule in [*self.agents.values(), *self.devices.values()]:
            days += [rule.messages_days, rule.audio_days]
        return any(value is not None for value in days)


def _retention_days(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 36_500:
        raise ValueError("expected whole days from 1 to 36500, or null to keep for ever")
    return value


def _agent_key(key: object) -> str:
    text = str(key).strip()
    if not text or len(text) > 32:
        raise ValueError(f"{key!r} is not an agent id (1 to 32 characters)")
    return text


class FeatureSettings(_Section):
    capture: bool = True
    tap: bool = True
    sync: bool = True
    notifications: bool = True
    console: bool = True
    export: bool = True


class Settings(BaseSettings):
    """Every setting of xiaozhi-server, one attribute per section."""

    model_config = SettingsConfigDict(
        env_prefix="XIAOZHI_",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    esp32_server: Esp32ServerSettings = Field(default_factory=Esp32ServerSettings)
    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    sync_service: SyncServiceSettings = Field(default_factory=SyncServiceSettings)
    notification: NotificationSettings = Field(default_factory=NotificationSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file, which arrives as init arguments.
        return (_CurrentEnvNames(settings_cls, env_settings), init_settings)


class _CurrentEnvNames(PydanticBaseSettingsSource):
    """The ``XIAOZHI_…`` overrides with older names carried forward (warnings: read_settings)."""

    def __init__(self, settings_cls: type[BaseSettings], env: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._env.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return migrate_environment(self._env())[0]


def normalise_storage_url(value: str) -> str:
    """Return ``value`` with an async driver; raise ValueError for anything unusable."""
    try:
        url = make_url(value)
    except ArgumentError as exc:
        raise ValueError(_URL_EXPECTED) from exc
    driver = _ASYNC_DRIVERS.get(url.drivername, url.drivername)
    if driver not in _SUPPORTED_DRIVERS:
        raise ValueError(_URL_EXPECTED)
    if driver != "sqlite+aiosqlite" and not url.database:
        raise ValueError("the URL names no database; " + _URL_EXPECTED)
    return url.set(drivername=driver).render_as_string(hide_password=False)


_URL_EXPECTED = (
    "expected a database URL such as sqlite+aiosqlite:///./data/xiaozhi-server.db, "
    "mysql+asyncmy://USER:PASSWORD@HOST:3306/DATABASE or postgresql+asyncpg://USER@HOST/DATABASE"
)


def resolve_config_path(explicit: Path | None) -> Path | None:
    """The settings file to read, by the documented order, or None for defaults only."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get("XIAOZHI_CONFIG")
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def load_settings(path: Path | None = None) -> Settings:
    """Read settings from the resolved file and the environment; raise ConfigError if wrong.

    Older keys are accepted with a warning logged for each (see read_settings).
    """
    settings, warnings = read_settings(path)
    for warning in warnings:
        logging.getLogger(__name__).warning("%s", warning)
    return settings


def read_settings(path: Path | None = None) -> tuple[Settings, list[str]]:
    """The settings and one line per deprecated key used; raise ConfigError if wrong."""
    source = resolve_config_path(path)
    data = _read_yaml(source) if source is not None else {}
    warnings: list[str] = []
    try:
        data, warnings = migrate_file(data, str(source or "settings"))
        warnings += migrate_environment(EnvSettingsSource(Settings)())[1]
        return Settings(**data), warnings
    except MigrationError as exc:
        raise ConfigError(str(exc)) from None
    except ValidationError as exc:
        where = f"in {source}" if source is not None else "in the environment"
        # an error under a key's new name makes sense only with the note that it moved
        notes = "".join(f"\n  note: {warning}" for warning in warnings)
        raise ConfigError(_describe(exc, where) + notes) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path} is not valid YAML{at}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections, not {type(data).__name__}")
    return data


def _describe(exc: ValidationError, where: str) -> str:
    lines = [f"invalid settings {where}:"]
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"])
        value = _shown_value(error["loc"], error.get("input"))
        if error["type"] == "extra_forbidden":
            hint = retired_hint(tuple(str(part) for part in error["loc"]))
            known = hint or _known_keys(error["loc"])
            lines.append(f"  {path}: unknown key (value {value}); {known}")
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"  {path} = {value}: {message}")
    return "\n".join(lines)


def _shown_value(loc: tuple[int | str, ...], value: object) -> str:
    if loc and str(loc[-1]).endswith("url") and isinstance(value, str):
        return repr(mask_url(value))
    if any(str(part) in SECRET_KEYS for part in loc):
        return "<hidden>"
    return repr(value)


def mask_url(url: str) -> str:
    """``url`` with any password (user info or a ``password`` parameter) replaced by ***.

    A URL that cannot be parsed but may hold credentials is shown as <hidden>.
    """
    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return "<hidden>" if "@" in url else url
    # Replaced in place: rebuilding would turn sqlite:///x into sqlite:/x.
    if has_password:
        userinfo, _, host = parts.netloc.rpartition("@")
        url = url.replace(f"//{parts.netloc}", f"//{userinfo.partition(':')[0]}:***@{host}", 1)
    if any(name.lower() == "password" for name, _ in query):
        masked = [(name, "***" if name.lower() == "password" else value) for name, value in query]
        url = url.replace(f"?{parts.query}", "?" + urlencode(masked, safe="*"), 1)
    return url


def _known_keys(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return "see config/xiaozhi-server.example.yaml"
        model = annotation
    return "expected one of: " + ", ".join(sorted(model.model_fields))
