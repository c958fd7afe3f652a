"""Typed configuration: TOML file < ``TMINUS_<SECTION>_<KEY>`` env < CLI flags.

Every problem stops start-up with one line naming the key and where it came from, e.g.
``ll2.requests_per_hour must be > 0 (config.toml)``. Secrets never appear in reprs or errors.
"""

from __future__ import annotations

import difflib
import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.core.timeutil import parse_duration

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("config.toml")
ENV_PREFIX = "TMINUS_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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


@dataclass(frozen=True)
class DiscordSettings:
    """``[discord]``: the bot's token and where discord.py connects."""

    token: Secret | None = None
    api_url: str = "https://discord.com/api/v10"
    gateway_url: str | None = None
    dev_guild_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class LL2Settings:
    """``[ll2]``: the Launch Library 2 endpoint and its request budget."""

    url: str = "https://ll.thespacedevs.com/2.2.0"
    api_key: Secret | None = None
    requests_per_hour: int = 15
    min_interval: timedelta = timedelta(seconds=30)
    user_agent: str = "tminus/0.1 (Discord spaceflight alert bot)"


@dataclass(frozen=True)
class StorageSettings:
    """``[storage]``: the SQLAlchemy database URL."""

    url: str = "sqlite:///tminus.db"


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]``: default reminder leads and alert thresholds."""

    reminders: tuple[timedelta, ...] = (
        timedelta(hours=24),
        timedelta(hours=1),
        timedelta(minutes=10),
    )
    grace: timedelta = timedelta(minutes=5)
    reschedule_threshold: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class LogSettings:
    """``[log]``: logging verbosity."""

    level: str = "INFO"


@dataclass(frozen=True)
class Config:
    """All of tminus's settings, resolved and checked."""

    discord: DiscordSettings = field(default_factory=DiscordSettings)
    ll2: LL2Settings = field(default_factory=LL2Settings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    log: LogSettings = field(default_factory=LogSettings)
    source: str = "defaults"


SECTIONS: dict[str, type] = {
    "discord": DiscordSettings,
    "ll2": LL2Settings,
    "storage": StorageSettings,
    "alerts": AlertSettings,
    "log": LogSettings,
}


# --- value conversion -----------------------------------------------------------------------


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _as_secret(value: Any) -> Secret | None:
    text = _as_str(value).strip()
    return Secret(text) if text else None


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


def _as_http_url(value: Any) -> str:
    text = _as_str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http(s) URL")
    return text


def _as_gateway_url(value: Any) -> str:
    text = _as_str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss", "http", "https") or not parts.netloc:
        raise ValueError("must be a ws(s) URL")
    return text


def _as_db_url(value: Any) -> str:
    text = _as_str(value).strip()
    if "://" not in text:
        raise ValueError("must be a database URL like sqlite:///tminus.db")
    return text


def _as_level(value: Any) -> str:
    text = _as_str(value).strip().upper()
    if text not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return text


CONVERTERS: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("discord", "token"): _as_secret,
    ("discord", "api_url"): _as_http_url,
    ("discord", "gateway_url"): _as_gateway_url,
    ("discord", "dev_guild_ids"): _as_ids,
    ("ll2", "url"): _as_http_url,
    ("ll2", "api_key"): _as_secret,
    ("ll2", "requests_per_hour"): _as_int,
    ("ll2", "min_interval"): _as_duration,
    ("ll2", "user_agent"): _as_str,
    ("storage", "url"): _as_db_url,
    ("alerts", "reminders"): _as_durations,
    ("alerts", "grace"): _as_duration,
    ("alerts", "reschedule_threshold"): _as_duration,
    ("log", "level"): _as_level,
}

# The global CLI flags that set a key (DESIGN.md, "CLI").
CLI_FLAGS = {
    ("storage", "url"): "--db",
    ("ll2", "url"): "--ll2-url",
    ("log", "level"): "--log-level",
}

SECRET_KEYS = frozenset({("discord", "token"), ("ll2", "api_key")})

# Checks of values that have the right type but make no sense.
_CHECKS: dict[tuple[str, str], tuple[Callable[[Any], bool], str]] = {
    ("ll2", "requests_per_hour"): (lambda v: v > 0, "must be > 0"),
    ("ll2", "min_interval"): (
        lambda v: timedelta(0) < v <= timedelta(hours=1),
        "must be between 1s and 1h",
    ),
    ("alerts", "grace"): (
        lambda v: timedelta(0) <= v <= timedelta(days=1),
        "must be between 0s and 24h",
    ),
    ("alerts", "reschedule_threshold"): (
        lambda v: timedelta(0) <= v <= timedelta(days=7),
        "must be between 0s and 7d",
    ),
    ("alerts", "reminders"): (
        lambda v: all(timedelta(0) < lead <= timedelta(days=14) for lead in v),
        "must be durations between 1s and 14d, like 24h, 1h, 10m",
    ),
}


def _convert(section: str, key: str, raw: Any, origin: str) -> Any:
    try:
        value = CONVERTERS[(section, key)](raw)
    except ValueError as exc:
        shown = "" if (section, key) in SECRET_KEYS else f", got {raw!r}"
        raise ConfigError(f"{section}.{key} {exc}{shown} ({origin})") from None
    check = _CHECKS.get((section, key))
    if check and not check[0](value):
        shown = "" if (section, key) in SECRET_KEYS else f", got {raw!r}"
        raise ConfigError(f"{section}.{key} {check[1]}{shown} ({origin})")
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
            if (section, key) not in CONVERTERS:
                raise ConfigError(f"unknown key {section}.{key} ({path})")
    return data


def _env_values(env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    known = {env_name(section, key): (section, key) for section, key in CONVERTERS}
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
    for section, items in file_data.items():
        for key, raw in items.items():
            values[section][key] = _convert(section, key, raw, str(path))
    for (section, key), raw in _env_values(env).items():
        values[section][key] = _convert(section, key, raw, env_name(section, key))
    for (section, key), raw in (overrides or {}).items():
        if raw is None:
            continue
        flag = CLI_FLAGS.get((section, key), f"--{section}-{key}".replace("_", "-"))
        values[section][key] = _convert(section, key, raw, f"command line {flag}")
    built = {name: SECTIONS[name](**values[name]) for name in SECTIONS}
    return Config(**built, source=str(path) if path else "defaults")
