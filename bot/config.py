"""Typed configuration: TOML file < ``TMINUS_<SECTION>_<KEY>`` env < CLI flags.

Each key is declared once, as a field of its section's dataclass made with :func:`setting`:
type, default, converter, bounds, CLI flag, whether it is a secret, and a one-line doc. The
checks, env names, "unknown key" errors, the misspelt-variable suggestion and the test of
``config.example.toml`` all come from those declarations (:data:`SETTINGS`).

Every problem stops start-up with one line naming the key and where it came from, e.g.
``ll2.requests_per_hour must be > 0 (config.toml)``. Secrets never appear in reprs or errors.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import SplitResult, urlsplit

from bot.core.timeutil import parse_duration

DEFAULT_CONFIG_PATH = Path("config.toml")
ENV_PREFIX = "TMINUS_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration problem, worded as the one line the user sees."""


class Secret:
    """A string that never shows itself in ``repr``/``str`` (tokens, API keys)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """Return the secret text."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# --- value conversion -----------------------------------------------------------------------


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _one_line_ascii(text: str, what: str) -> str:
    # Values that end up in HTTP headers: a newline would split the header (or be refused by
    # httpx/aiohttp deep inside a request), a non-ASCII character cannot be encoded at all.
    if not text.isascii() or not text.isprintable():
        raise ValueError(f"must be {what} on one line (printable ASCII, no control characters)")
    return text


def _as_secret(value: Any) -> Secret | None:
    text = _as_str(value).strip()
    if not text:
        return None
    # Never echo a secret: the message says what is wrong, not where.
    _one_line_ascii(text, "a single token")
    if any(c.isspace() for c in text):
        raise ValueError("must be a single token with no spaces")
    return Secret(text)


def _as_header_text(value: Any) -> str:
    return _one_line_ascii(_as_str(value).strip(), "text")


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError("must be an integer")


def _as_duration(value: Any) -> timedelta:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return timedelta(seconds=value)
        except (OverflowError, ValueError):  # inf, nan, 1e30
            raise ValueError("must be a duration like 30s, 5m, 1h, 24h") from None
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            # parse_duration's own wording repeats the value; keep the one-line shape
            # "<key> must be …, got <value> (<source>)" that every other error has.
            raise ValueError("must be a duration like 30s, 5m, 1h, 24h") from None
    raise ValueError("must be a duration like 30s, 5m, 1h, 24h")


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        return value
    raise ValueError("must be a list")


def _as_durations(value: Any) -> tuple[timedelta, ...]:
    if isinstance(value, str) and value.strip().lower() == "none":
        return ()
    return tuple(sorted({_as_duration(v) for v in _as_list(value)}, reverse=True))


def _as_ids(value: Any) -> tuple[int, ...]:
    return tuple(_as_int(v) for v in _as_list(value))


def _check_port(parts: SplitResult) -> None:
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise ValueError("must have a port between 1 and 65535") from None


def _as_http_url(value: Any) -> str:
    text = _as_str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or not text.isprintable():
        raise ValueError("must be an http(s) URL")
    _check_port(parts)
    return text


def _as_gateway_url(value: Any) -> str | None:
    text = _as_str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss", "http", "https") or not parts.netloc:
        raise ValueError("must be a ws(s) URL")
    _check_port(parts)
    return text


# What tminus is tested against; SQLAlchemy would accept many more and fail later, deep
# inside a driver import ("No module named MySQLdb").
DB_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


def _as_db_url(value: Any) -> str:
    text = _as_str(value).strip()
    if "://" not in text:
        raise ValueError("must be a database URL like sqlite:///tminus.db")
    scheme = text.split("://", 1)[0].lower()
    if scheme not in DB_SCHEMES:
        raise ValueError(
            "must be a SQLite or PostgreSQL URL (sqlite:///path/tminus.db or "
            "postgresql://user@host/db)"
        )
    _check_port(urlsplit(text))
    return text


def _as_listen(value: Any) -> tuple[str, int] | None:
    text = _as_str(value).strip()
    if not text:
        return None
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")  # [::1]:9108
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError('must be "host:port" like "127.0.0.1:9108" (port 1-65535), or empty')
    if not host.isascii() or not host.isprintable() or any(c.isspace() for c in host):
        raise ValueError('must be "host:port" like "127.0.0.1:9108" (port 1-65535), or empty')
    return host, int(port)


def _as_level(value: Any) -> str:
    text = _as_str(value).strip().upper()
    if text not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return text


FEEDS = ("events", "launches")


def _as_feeds(value: Any) -> tuple[str, ...]:
    names = [str(v).strip().lower() for v in _as_list(value)]
    unknown = [n for n in names if n not in FEEDS]
    if unknown:
        raise ValueError(f"must name feeds among {', '.join(FEEDS)} (not {unknown[0]!r})")
    if not names:
        raise ValueError(f"must name at least one feed: {', '.join(FEEDS)}")
    return tuple(f for f in FEEDS if f in names)


def _bound(text: str | int) -> int | timedelta:
    # Bounds are written as a user would write the value: 5, "30s", "14d".
    return text if isinstance(text, int) else parse_duration(text)


# --- the declarations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One config key as declared: everything tminus knows about it."""

    section: str
    key: str
    default: Any
    convert: Callable[[Any], Any]
    doc: str
    secret: bool = False
    flag: str | None = None
    above: int | None = None
    between: tuple[str | int, str | int] | None = None

    @property
    def name(self) -> str:
        """Return the dotted name users see in errors, e.g. ``ll2.url``."""
        return f"{self.section}.{self.key}"

    @property
    def env(self) -> str:
        """Return the environment variable that sets this key."""
        return env_name(self.section, self.key)

    def problem(self, value: Any) -> str | None:
        """Return what is wrong with a converted value (out of bounds), or None."""
        if self.above is not None and not value > self.above:
            return f"must be > {self.above}"
        if self.between is None:
            return None
        low, high = (_bound(b) for b in self.between)
        if isinstance(value, tuple):
            if all(low <= item <= high for item in value):
                return None
            return (
                f"must be durations between {self.between[0]} and {self.between[1]}, "
                "like 24h, 1h, 10m"
            )
        if low <= value <= high:
            return None
        return f"must be between {self.between[0]} and {self.between[1]}"


def setting(
    default: T,
    convert: Callable[[Any], T],
    *,
    doc: str,
    secret: bool = False,
    flag: str | None = None,
    above: int | None = None,
    between: tuple[str | int, str | int] | None = None,
) -> T:
    """Declare a key as a dataclass field (its section and name come from where it sits)."""
    spec = {
        "convert": convert,
        "doc": doc,
        "secret": secret,
        "flag": flag,
        "above": above,
        "between": between,
    }
    # The dataclass machinery sees a Field; type checkers see a default of type T.
    return field(default=default, metadata={"setting": spec})


@dataclass(frozen=True)
class DiscordSettings:
    """``[discord]``: the bot's token and where discord.py connects."""

    token: Secret | None = setting(
        None,
        _as_secret,
        secret=True,
        doc="The bot token from the Discord developer portal (`tminus run` needs it).",
    )
    api_url: str = setting(
        "https://discord.com/api/v10",
        _as_http_url,
        doc="Discord's REST base; point it at a REST proxy (or the test emulator) if you use one.",
    )
    gateway_url: str | None = setting(
        None,
        _as_gateway_url,
        doc="Gateway URL override (proxies, tests). Unset: the one Discord hands out.",
    )
    dev_guild_ids: tuple[int, ...] = setting(
        (),
        _as_ids,
        doc="Guild ids whose slash commands are synced instantly (development); else global sync.",
    )
    shard_count: int | None = setting(
        None,
        _as_int,
        above=0,
        doc="Gateway shards of the whole bot, all processes together; unset: Discord's advice.",
    )
    shard_ids: tuple[int, ...] = setting(
        (),
        _as_ids,
        doc="The shards this process connects (needs shard_count); empty: every shard.",
    )

    def shard_problem(self) -> str | None:
        """Return why shard_ids and shard_count do not fit together, or None."""
        if self.shard_ids and self.shard_count is None:
            return "discord.shard_ids needs discord.shard_count (the shards of the whole bot)"
        count = self.shard_count or 0
        bad = [i for i in self.shard_ids if not 0 <= i < count]
        if bad:
            return (
                f"discord.shard_ids must be between 0 and {count - 1} "
                f"(shard_count {count}), got {bad[0]}"
            )
        if len(set(self.shard_ids)) != len(self.shard_ids):
            return "discord.shard_ids lists a shard twice"
        return None


@dataclass(frozen=True)
class LL2Settings:
    """``[ll2]``: the Launch Library 2 endpoint and its request budget."""

    url: str = setting(
        "https://ll.thespacedevs.com/2.2.0",
        _as_http_url,
        flag="--ll2-url",
        doc="Launch Library 2 API root with its version: 2.2.0 (default) or 2.3.0.",
    )
    api_key: Secret | None = setting(
        None,
        _as_secret,
        secret=True,
        doc='An LL2 API key lifts the free tier\'s limit; sent as "Authorization: Token <key>".',
    )
    requests_per_hour: int = setting(
        15,
        _as_int,
        above=0,
        doc="Requests per rolling hour the client will never exceed (free tier: 15 per IP).",
    )
    min_interval: timedelta = setting(
        timedelta(seconds=30),
        _as_duration,
        between=("1s", "1h"),
        doc="The shortest gap between two polls; the adaptive schedule never polls faster.",
    )
    user_agent: str = setting(
        "tminus/0.1 (Discord spaceflight alert bot)",
        _as_header_text,
        doc="Sent with every request so The Space Devs know who is calling.",
    )
    feeds: tuple[str, ...] = setting(
        FEEDS,
        _as_feeds,
        doc="Which LL2 feeds to poll: events, launches or both (one budget for both).",
    )


@dataclass(frozen=True)
class StorageSettings:
    """``[storage]``: the SQLAlchemy database URL."""

    url: str = setting(
        "sqlite:///tminus.db",
        _as_db_url,
        flag="--db",
        doc="SQLAlchemy URL: SQLite (WAL mode) by default, or PostgreSQL.",
    )


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]``: default reminder leads, alert thresholds and per-server limits."""

    reminders: tuple[timedelta, ...] = setting(
        (timedelta(hours=24), timedelta(hours=1), timedelta(minutes=10)),
        _as_durations,
        between=("1m", "14d"),
        doc="Default reminder leads for new subscriptions (each subscription may set its own).",
    )
    grace: timedelta = setting(
        timedelta(minutes=5),
        _as_duration,
        between=("0s", "24h"),
        doc="A reminder later than this (after downtime) is dropped and logged, not sent late.",
    )
    reschedule_threshold: timedelta = setting(
        timedelta(minutes=5),
        _as_duration,
        between=("0s", "7d"),
        doc="A date must move at least this much to count as rescheduled.",
    )
    max_subscriptions_per_guild: int = setting(
        50,
        _as_int,
        between=(1, 10000),
        doc="The most subscriptions one server may have; /alerts add refuses more.",
    )
    scheduled_event_horizon: timedelta = setting(
        timedelta(days=14),
        _as_duration,
        between=("1h", "60d"),
        doc="Items starting within this are mirrored as Discord scheduled events (if asked).",
    )


@dataclass(frozen=True)
class MetricsSettings:
    """``[metrics]``: where ``tminus run`` serves ``/metrics`` and ``/healthz``."""

    listen: tuple[str, int] | None = setting(
        None,
        _as_listen,
        doc="host:port for Prometheus /metrics and /healthz during `tminus run`; empty: off.",
    )


@dataclass(frozen=True)
class LogSettings:
    """``[log]``: logging verbosity."""

    level: str = setting(
        "INFO",
        _as_level,
        flag="--log-level",
        doc="DEBUG, INFO, WARNING, ERROR or CRITICAL. Tokens and API keys are never logged.",
    )


@dataclass(frozen=True)
class Config:
    """All of tminus's settings, resolved and checked."""

    discord: DiscordSettings = field(default_factory=DiscordSettings)
    ll2: LL2Settings = field(default_factory=LL2Settings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    log: LogSettings = field(default_factory=LogSettings)
    source: str = "defaults"
    # Where each value that is not a default came from ("config.toml", "TMINUS_…", a flag),
    # so a value refused later (a token Discord rejects) is blamed on the right place.
    origins: Mapping[str, str] = field(default_factory=dict)

    def origin(self, section: str, key: str) -> str:
        """Return where ``section.key`` was set: a file, an env var, a flag or "default"."""
        return self.origins.get(f"{section}.{key}", "default")


SECTIONS: dict[str, type] = {
    "discord": DiscordSettings,
    "ll2": LL2Settings,
    "storage": StorageSettings,
    "alerts": AlertSettings,
    "metrics": MetricsSettings,
    "log": LogSettings,
}


def _collect() -> dict[tuple[str, str], Setting]:
    found = {}
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            found[(section, f.name)] = Setting(
                section=section, key=f.name, default=f.default, **f.metadata["setting"]
            )
    return found


# Every key tminus reads, in the order of config.example.toml.
SETTINGS: dict[tuple[str, str], Setting] = _collect()


def _convert(spec: Setting, raw: Any, origin: str) -> Any:
    shown = "" if spec.secret else f", got {raw!r}"
    try:
        value = spec.convert(raw)
    except ValueError as exc:
        raise ConfigError(f"{spec.name} {exc}{shown} ({origin})") from None
    problem = spec.problem(value)
    if problem:
        raise ConfigError(f"{spec.name} {problem}{shown} ({origin})")
    return value


# --- loading --------------------------------------------------------------------------------


def read_file(path: Path) -> dict[str, dict[str, Any]]:
    """Read and shape-check a TOML config file."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"config file is a directory: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file is not valid TOML: {exc} ({path})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file is not valid TOML: not UTF-8 text ({path})") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror or exc} ({path})") from None
    for section, values in data.items():
        if section not in SECTIONS:
            known = ", ".join(f"[{s}]" for s in SECTIONS)
            raise ConfigError(f"unknown section [{section}] (known: {known}) ({path})")
        if not isinstance(values, dict):
            raise ConfigError(f"{section} must be a table like [{section}] ({path})")
        for key in values:
            if (section, key) not in SETTINGS:
                raise ConfigError(f"unknown key {section}.{key} ({path})")
    return data


def _env_values(env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    known = {spec.env: name for name, spec in SETTINGS.items()}
    sections = tuple(f"{ENV_PREFIX}{section.upper()}_" for section in SECTIONS)
    for name, value in env.items():
        if name in known:
            found[known[name]] = value
        elif name.startswith(sections):
            # A typo such as TMINUS_DISCORD_TOKN would otherwise be silently ignored.
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" — did you mean {close[0]}?" if close else ""
            raise ConfigError(f"unknown setting {name} (environment){hint}")
    return found


def env_name(section: str, key: str) -> str:
    """Return the environment variable that sets ``section.key``."""
    return f"{ENV_PREFIX}{section.upper()}_{key.upper()}"


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[tuple[str, str], Any] | None = None,
) -> Config:
    """Resolve settings: CLI ``overrides`` > ``env`` > the TOML file > defaults.

    ``path=None`` reads ``./config.toml`` when it exists; an explicit path must exist.
    """
    env = os.environ if env is None else env
    if path is None and DEFAULT_CONFIG_PATH.is_file():
        path = DEFAULT_CONFIG_PATH
    file_data = read_file(path) if path is not None else {}
    values: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    origins: dict[str, str] = {}

    def put(spec: Setting, raw: Any, origin: str) -> None:
        values[spec.section][spec.key] = _convert(spec, raw, origin)
        origins[spec.name] = origin

    for section, items in file_data.items():
        for key, raw in items.items():
            put(SETTINGS[(section, key)], raw, str(path))
    for (section, key), raw in _env_values(env).items():
        spec = SETTINGS[(section, key)]
        put(spec, raw, spec.env)
    for (section, key), raw in (overrides or {}).items():
        if raw is None:
            continue
        spec = SETTINGS[(section, key)]
        flag = spec.flag or f"--{section}-{key}".replace("_", "-")
        put(spec, raw, f"command line {flag}")
    built = {name: SECTIONS[name](**values[name]) for name in SECTIONS}
    return Config(**built, source=str(path) if path else "defaults", origins=origins)
