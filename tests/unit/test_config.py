"""Typed config: flag > env > file > default, one-line errors naming key and source, secrets."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import (
    SETTINGS,
    AlertSettings,
    Config,
    ConfigError,
    DiscordSettings,
    LL2Settings,
    LogSettings,
    Secret,
    StorageSettings,
    env_name,
    load_config,
)

REPO = Path(__file__).resolve().parents[2]
CLI_FLAGS = {name: spec.flag for name, spec in SETTINGS.items() if spec.flag}
SECRET_KEYS = {name for name, spec in SETTINGS.items() if spec.secret}
EXAMPLE = REPO / "config.example.toml"

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.super-secret-bot-token"
API_KEY = "0123456789abcdef-ll2-api-key"


@pytest.fixture(autouse=True)
def _no_config_in_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test where no ./config.toml can leak in from the checkout."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    """Write a TOML file and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path | None = None, **kwargs: Any) -> str:
    """Return the one-line ConfigError message load_config raises."""
    kwargs.setdefault("env", {})
    with pytest.raises(ConfigError) as caught:
        load_config(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


# --- one value per key and layer, used by the precedence tests ----------------------------
#
# (TOML value in the file, env text, what each resolves to). Each key's layers differ so the
# winner is visible.
LAYERS: dict[tuple[str, str], tuple[Any, str, Any, Any]] = {
    ("discord", "token"): ("file-token", "env-token", Secret("file-token"), Secret("env-token")),
    ("discord", "api_url"): (
        "http://file.example/api",
        "http://env.example/api",
        "http://file.example/api",
        "http://env.example/api",
    ),
    ("discord", "gateway_url"): (
        "ws://file.example/gw",
        "wss://env.example/gw",
        "ws://file.example/gw",
        "wss://env.example/gw",
    ),
    ("discord", "dev_guild_ids"): ([1, 2], "3,4", (1, 2), (3, 4)),
    ("discord", "shard_count"): (4, "6", 4, 6),
    ("discord", "shard_ids"): ([0, 1], "2,3", (0, 1), (2, 3)),
    ("ll2", "url"): (
        "http://file.example/2.3.0",
        "http://env.example/2.2.0",
        "http://file.example/2.3.0",
        "http://env.example/2.2.0",
    ),
    ("ll2", "api_key"): ("file-key", "env-key", Secret("file-key"), Secret("env-key")),
    ("ll2", "requests_per_hour"): (100, "200", 100, 200),
    ("ll2", "min_interval"): ("45s", "2m", timedelta(seconds=45), timedelta(minutes=2)),
    ("ll2", "user_agent"): ("file-agent", "env-agent", "file-agent", "env-agent"),
    ("ll2", "feeds"): (["launches"], "events", ("launches",), ("events",)),
    ("storage", "url"): (
        "sqlite:///file.db",
        "sqlite:///env.db",
        "sqlite:///file.db",
        "sqlite:///env.db",
    ),
    ("alerts", "reminders"): (
        ["2h"],
        "48h,30m",
        (timedelta(hours=2),),
        (timedelta(hours=48), timedelta(minutes=30)),
    ),
    ("alerts", "grace"): ("1m", "10m", timedelta(minutes=1), timedelta(minutes=10)),
    ("alerts", "reschedule_threshold"): (
        "15m",
        "1h",
        timedelta(minutes=15),
        timedelta(hours=1),
    ),
    ("alerts", "max_subscriptions_per_guild"): (200, "120", 200, 120),
    ("alerts", "scheduled_event_horizon"): ("7d", "2d", timedelta(days=7), timedelta(days=2)),
    ("metrics", "listen"): (
        "127.0.0.1:9108",
        "[::1]:9200",
        ("127.0.0.1", 9108),
        ("::1", 9200),
    ),
    ("log", "level"): ("WARNING", "debug", "WARNING", "DEBUG"),
}
FLAG_VALUES: dict[tuple[str, str], tuple[str, Any]] = {
    ("storage", "url"): ("sqlite:///flag.db", "sqlite:///flag.db"),
    ("ll2", "url"): ("https://flag.example/2.3.0/", "https://flag.example/2.3.0"),
    ("log", "level"): ("error", "ERROR"),
}
DEFAULTS = Config()


def toml_of(section: str, key: str, value: Any) -> str:
    """Render one key as a TOML file."""
    if isinstance(value, list):
        shown = "[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in value) + "]"
    elif isinstance(value, str):
        shown = f'"{value}"'
    else:
        shown = str(value)
    return f"[{section}]\n{key} = {shown}\n"


def value_of(config: Config, section: str, key: str) -> Any:
    """Return one setting from a resolved config."""
    return getattr(getattr(config, section), key)


KEYS = sorted(SETTINGS)


def test_every_key_has_precedence_values() -> None:
    """The precedence tables below cover every known key and every CLI flag."""
    assert set(LAYERS) == set(SETTINGS)
    assert set(FLAG_VALUES) == set(CLI_FLAGS)


# --- precedence ---------------------------------------------------------------------------


def test_defaults_apply_without_file_env_or_flags() -> None:
    """Nothing given: every section holds its documented default."""
    config = load_config(None, env={})
    assert config.source == "defaults"
    assert config.ll2 == LL2Settings()
    assert config.ll2.url == "https://ll.thespacedevs.com/2.2.0"
    assert config.ll2.requests_per_hour == 15
    assert config.ll2.min_interval == timedelta(seconds=30)
    assert config.storage.url == "sqlite:///tminus.db"
    assert config.alerts.reminders == (
        timedelta(hours=24),
        timedelta(hours=1),
        timedelta(minutes=10),
    )
    assert config.alerts.grace == timedelta(minutes=5)
    assert config.alerts.max_subscriptions_per_guild == 50
    assert config.log.level == "INFO"
    assert config.discord.token is None


@pytest.mark.parametrize(("section", "key"), KEYS, ids=[f"{s}.{k}" for s, k in KEYS])
def test_file_beats_default(tmp_path: Path, section: str, key: str) -> None:
    """A key set in the file replaces its default."""
    file_value, _, from_file, _ = LAYERS[(section, key)]
    path = write(tmp_path, toml_of(section, key, file_value))
    config = load_config(path, env={})
    assert value_of(config, section, key) == from_file
    assert value_of(config, section, key) != value_of(DEFAULTS, section, key)


@pytest.mark.parametrize(("section", "key"), KEYS, ids=[f"{s}.{k}" for s, k in KEYS])
def test_env_beats_file(tmp_path: Path, section: str, key: str) -> None:
    """TMINUS_<SECTION>_<KEY> replaces the file's value for that key."""
    file_value, env_value, _, from_env = LAYERS[(section, key)]
    path = write(tmp_path, toml_of(section, key, file_value))
    config = load_config(path, env={env_name(section, key): env_value})
    assert value_of(config, section, key) == from_env


@pytest.mark.parametrize(
    ("section", "key"), sorted(CLI_FLAGS), ids=[CLI_FLAGS[k] for k in sorted(CLI_FLAGS)]
)
def test_flag_beats_env_beats_file(tmp_path: Path, section: str, key: str) -> None:
    """A command-line flag wins over env and file; env still wins over file without it."""
    file_value, env_value, _, from_env = LAYERS[(section, key)]
    flag_value, from_flag = FLAG_VALUES[(section, key)]
    path = write(tmp_path, toml_of(section, key, file_value))
    env = {env_name(section, key): env_value}
    flagged = load_config(path, env=env, overrides={(section, key): flag_value})
    assert value_of(flagged, section, key) == from_flag
    unflagged = load_config(path, env=env, overrides={(section, key): None})
    assert value_of(unflagged, section, key) == from_env


def test_layers_merge_key_by_key_not_section_by_section(tmp_path: Path) -> None:
    """Env setting one [ll2] key keeps the file's other [ll2] keys and defaults for the rest."""
    path = write(
        tmp_path, '[ll2]\nurl = "https://lldev.thespacedevs.com/2.3.0"\nrequests_per_hour = 100\n'
    )
    config = load_config(
        path,
        env={"TMINUS_LL2_REQUESTS_PER_HOUR": "50"},
        overrides={("log", "level"): "DEBUG"},
    )
    assert config.ll2.url == "https://lldev.thespacedevs.com/2.3.0"
    assert config.ll2.requests_per_hour == 50
    assert config.ll2.min_interval == timedelta(seconds=30)
    assert config.log.level == "DEBUG"
    assert config.source == str(path)


def test_env_names_are_tminus_section_key() -> None:
    """Every key's env var is TMINUS_<SECTION>_<KEY> in upper case."""
    assert env_name("discord", "token") == "TMINUS_DISCORD_TOKEN"
    assert env_name("ll2", "requests_per_hour") == "TMINUS_LL2_REQUESTS_PER_HOUR"
    assert env_name("alerts", "reschedule_threshold") == "TMINUS_ALERTS_RESCHEDULE_THRESHOLD"
    for section, key in SETTINGS:
        assert env_name(section, key) == f"TMINUS_{section.upper()}_{key.upper()}"


def test_unrelated_and_lowercase_env_vars_are_ignored() -> None:
    """Only exact TMINUS_<SECTION>_<KEY> names count; lookalikes change nothing."""
    config = load_config(
        None,
        env={
            "tminus_ll2_requests_per_hour": "99",
            "LL2_REQUESTS_PER_HOUR": "98",
            "TMINUS_LL2": "97",
        },
    )
    assert config.ll2.requests_per_hour == 15


def test_config_toml_in_the_current_directory_is_read_by_default(tmp_path: Path) -> None:
    """Without --config, ./config.toml is used when it exists."""
    write(tmp_path, "[ll2]\nrequests_per_hour = 7\n")
    config = load_config(None, env={})
    assert config.ll2.requests_per_hour == 7
    assert config.source == "config.toml"


# --- durations and lists in env -----------------------------------------------------------


def test_durations_in_env_accept_seconds_minutes_hours() -> None:
    """Durations are written 30s, 5m, 1h, 24h in env vars too."""
    config = load_config(
        None,
        env={
            "TMINUS_LL2_MIN_INTERVAL": "30s",
            "TMINUS_ALERTS_GRACE": "5m",
            "TMINUS_ALERTS_RESCHEDULE_THRESHOLD": "1h",
        },
    )
    assert config.ll2.min_interval == timedelta(seconds=30)
    assert config.alerts.grace == timedelta(minutes=5)
    assert config.alerts.reschedule_threshold == timedelta(hours=1)


def test_reminder_list_in_env_is_comma_separated() -> None:
    """TMINUS_ALERTS_REMINDERS=24h,1h gives the two leads, longest first."""
    config = load_config(None, env={"TMINUS_ALERTS_REMINDERS": "24h,1h"})
    assert config.alerts.reminders == (timedelta(hours=24), timedelta(hours=1))
    spaced = load_config(None, env={"TMINUS_ALERTS_REMINDERS": " 10m , 24h,1h,1h "})
    assert spaced.alerts.reminders == (
        timedelta(hours=24),
        timedelta(hours=1),
        timedelta(minutes=10),
    )


def test_reminders_none_in_env_means_no_default_reminders() -> None:
    """TMINUS_ALERTS_REMINDERS=none turns the default leads off."""
    assert load_config(None, env={"TMINUS_ALERTS_REMINDERS": "none"}).alerts.reminders == ()


def test_guild_id_list_in_env_is_comma_separated() -> None:
    """TMINUS_DISCORD_DEV_GUILD_IDS=1,2 gives integer ids."""
    config = load_config(None, env={"TMINUS_DISCORD_DEV_GUILD_IDS": "111, 222"})
    assert config.discord.dev_guild_ids == (111, 222)


def test_numbers_in_env_are_converted() -> None:
    """Integer keys read from env text become ints."""
    config = load_config(None, env={"TMINUS_LL2_REQUESTS_PER_HOUR": " 30 "})
    assert config.ll2.requests_per_hour == 30


# --- one-line errors naming the key and the source ----------------------------------------


def test_missing_explicit_file_names_the_path(tmp_path: Path) -> None:
    """--config pointing nowhere stops with the path; it does not fall back to defaults."""
    path = tmp_path / "nope.toml"
    assert error_of(path) == f"config file not found: {path}"


def test_toml_syntax_error_names_the_position_and_file(tmp_path: Path) -> None:
    """A TOML error says where in which file."""
    path = write(tmp_path, "[ll2]\nrequests_per_hour = \n")
    assert error_of(path) == (
        f"config file is not valid TOML: Invalid value (at line 2, column 21) ({path})"
    )


def test_unknown_key_names_section_key_and_file(tmp_path: Path) -> None:
    """A misspelt key stops start-up instead of being ignored."""
    path = write(tmp_path, "[ll2]\nrequest_per_hour = 5\n")
    assert error_of(path) == f"unknown key ll2.request_per_hour ({path})"


def test_unknown_section_names_it_and_the_known_ones(tmp_path: Path) -> None:
    """A misspelt section lists the sections that exist."""
    path = write(tmp_path, '[logging]\nlevel = "INFO"\n')
    assert error_of(path) == (
        "unknown section [logging] "
        f"(known: [discord], [ll2], [storage], [alerts], [metrics], [log]) ({path})"
    )


def test_section_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    """`ll2 = 5` at top level is a shape error naming the section."""
    path = write(tmp_path, "ll2 = 5\n")
    assert error_of(path) == f"ll2 must be a table like [ll2] ({path})"


def test_wrong_type_names_key_value_and_file(tmp_path: Path) -> None:
    """requests_per_hour = "lots" is not an integer."""
    path = write(tmp_path, '[ll2]\nrequests_per_hour = "lots"\n')
    assert error_of(path) == f"ll2.requests_per_hour must be an integer, got 'lots' ({path})"


@pytest.mark.parametrize("raw", ["true", "1.5"])
def test_booleans_and_floats_are_not_integers(tmp_path: Path, raw: str) -> None:
    """TOML true or 1.5 for an integer key is refused, not truncated."""
    path = write(tmp_path, f"[ll2]\nrequests_per_hour = {raw}\n")
    shown = {"true": "True", "1.5": "1.5"}[raw]
    assert error_of(path) == f"ll2.requests_per_hour must be an integer, got {shown} ({path})"


def test_impossible_value_names_key_value_and_file(tmp_path: Path) -> None:
    """requests_per_hour = 0 could never send a request."""
    path = write(tmp_path, "[ll2]\nrequests_per_hour = 0\n")
    assert error_of(path) == f"ll2.requests_per_hour must be > 0, got 0 ({path})"


def test_zero_min_interval_is_impossible(tmp_path: Path) -> None:
    """min_interval = "0s" would poll without pause."""
    path = write(tmp_path, '[ll2]\nmin_interval = "0s"\n')
    assert error_of(path) == f"ll2.min_interval must be between 1s and 1h, got '0s' ({path})"


@pytest.mark.parametrize(
    "url",
    [
        "ll.thespacedevs.com/2.2.0",
        "ftp://ll.thespacedevs.com/2.2.0",
        "https://",
        "ws://ll.thespacedevs.com/2.2.0",
    ],
)
def test_bad_ll2_url_names_key_value_and_file(tmp_path: Path, url: str) -> None:
    """ll2.url must be an http(s) URL with a host."""
    path = write(tmp_path, f'[ll2]\nurl = "{url}"\n')
    assert error_of(path) == f"ll2.url must be an http(s) URL, got '{url}' ({path})"


def test_gateway_url_may_be_a_websocket_url() -> None:
    """discord.gateway_url takes ws:// and wss:// (proxies, the test emulator)."""
    config = load_config(None, env={"TMINUS_DISCORD_GATEWAY_URL": "ws://127.0.0.1:9999/"})
    assert config.discord.gateway_url == "ws://127.0.0.1:9999"


def test_bad_database_url_names_the_flag(tmp_path: Path) -> None:
    """A bad --db names the flag it came from."""
    message = error_of(None, overrides={("storage", "url"): "tminus.db"})
    assert message == (
        "storage.url must be a database URL like sqlite:///tminus.db, got 'tminus.db' "
        "(command line --db)"
    )


def test_bad_duration_names_key_value_and_file(tmp_path: Path) -> None:
    """min_interval = "soon" is not a duration."""
    path = write(tmp_path, '[ll2]\nmin_interval = "soon"\n')
    assert error_of(path) == (
        f"ll2.min_interval must be a duration like 30s, 5m, 1h, 24h, got 'soon' ({path})"
    )


def test_bad_duration_in_an_env_list_names_the_env_var() -> None:
    """One bad lead in TMINUS_ALERTS_REMINDERS names the variable and its text."""
    message = error_of(None, env={"TMINUS_ALERTS_REMINDERS": "24h,soon"})
    assert message == (
        "alerts.reminders must be a duration like 30s, 5m, 1h, 24h, got '24h,soon' "
        "(TMINUS_ALERTS_REMINDERS)"
    )


def test_negative_duration_is_refused() -> None:
    """A negative grace is not a duration tminus can use."""
    message = error_of(None, env={"TMINUS_ALERTS_GRACE": "-5m"})
    assert message == (
        "alerts.grace must be a duration like 30s, 5m, 1h, 24h, got '-5m' (TMINUS_ALERTS_GRACE)"
    )


@pytest.mark.parametrize("lead", ["0s", "30s"])
def test_a_reminder_lead_under_a_minute_is_refused(tmp_path: Path, lead: str) -> None:
    """A reminder less than a minute before an event is not a useful lead."""
    path = write(tmp_path, f'[alerts]\nreminders = ["1h", "{lead}"]\n')
    assert error_of(path) == (
        "alerts.reminders must be durations between 1m and 14d, like 24h, 1h, 10m, "
        f"got ['1h', '{lead}'] ({path})"
    )


@pytest.mark.parametrize("raw", ["0", "10001", "-5"])
def test_subscription_cap_out_of_bounds_names_key_value_and_file(tmp_path: Path, raw: str) -> None:
    """max_subscriptions_per_guild must allow at least one and at most 10000."""
    path = write(tmp_path, f"[alerts]\nmax_subscriptions_per_guild = {raw}\n")
    assert error_of(path) == (
        f"alerts.max_subscriptions_per_guild must be between 1 and 10000, got {raw} ({path})"
    )


def test_subscription_cap_bounds_are_inclusive() -> None:
    """1 and 10000 are both accepted, from the environment as from a file."""
    for raw, expected in (("1", 1), ("10000", 10000)):
        env = {"TMINUS_ALERTS_MAX_SUBSCRIPTIONS_PER_GUILD": raw}
        assert load_config(None, env=env).alerts.max_subscriptions_per_guild == expected


def test_bad_log_level_lists_the_levels(tmp_path: Path) -> None:
    """log.level = "LOUD" names the accepted levels."""
    path = write(tmp_path, '[log]\nlevel = "LOUD"\n')
    assert error_of(path) == (
        f"log.level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD' ({path})"
    )


def test_bad_env_value_names_the_env_var() -> None:
    """An env value error names TMINUS_…, not the file."""
    message = error_of(None, env={"TMINUS_LL2_REQUESTS_PER_HOUR": "lots"})
    assert message == (
        "ll2.requests_per_hour must be an integer, got 'lots' (TMINUS_LL2_REQUESTS_PER_HOUR)"
    )


def test_bad_flag_value_names_the_flag() -> None:
    """A bad --log-level names the flag."""
    message = error_of(None, overrides={("log", "level"): "chatty"})
    assert message == (
        "log.level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'chatty' "
        "(command line --log-level)"
    )


def test_a_bad_env_value_stops_even_when_a_flag_would_override_it() -> None:
    """Every given value is checked, so a broken env var cannot hide behind a flag."""
    message = error_of(
        None,
        env={"TMINUS_LOG_LEVEL": "LOUD"},
        overrides={("log", "level"): "INFO"},
    )
    assert message.endswith("(TMINUS_LOG_LEVEL)")


# --- secrets ------------------------------------------------------------------------------


def test_secrets_never_appear_in_repr_or_str() -> None:
    """A loaded token and API key are masked wherever the config is printed."""
    config = load_config(None, env={"TMINUS_DISCORD_TOKEN": TOKEN, "TMINUS_LL2_API_KEY": API_KEY})
    assert config.discord.token is not None and config.discord.token.get() == TOKEN
    assert config.ll2.api_key is not None and config.ll2.api_key.get() == API_KEY
    for shown in (
        repr(config),
        str(config),
        repr(config.discord),
        str(config.ll2),
        repr(config.discord.token),
        str(config.ll2.api_key),
        f"{config.discord.token}",
    ):
        assert TOKEN not in shown
        assert API_KEY not in shown
    assert "Secret('********')" in repr(config.discord)


def test_blank_secret_is_no_secret() -> None:
    """An empty or blank token counts as not set."""
    assert load_config(None, env={"TMINUS_DISCORD_TOKEN": "  "}).discord.token is None


@pytest.mark.parametrize(("section", "key"), sorted(SECRET_KEYS))
def test_wrong_typed_secret_is_not_echoed_in_the_error(
    tmp_path: Path, section: str, key: str
) -> None:
    """A token given as a number or list is refused without showing its value."""
    for raw, secret_text in (("12345678987654321", "12345678987654321"), (f'["{TOKEN}"]', TOKEN)):
        path = write(tmp_path, f"[{section}]\n{key} = {raw}\n")
        message = error_of(path)
        assert message == f"{section}.{key} must be a string ({path})"
        assert secret_text not in message


def test_secret_in_a_broken_toml_file_is_not_echoed(tmp_path: Path) -> None:
    """A TOML error on the token's line does not quote the token."""
    path = write(tmp_path, f'[discord]\ntoken = "{TOKEN}\n')
    message = error_of(path)
    assert message.startswith("config file is not valid TOML: ")
    assert TOKEN not in message


def test_secret_in_the_file_is_not_echoed_when_another_key_is_wrong(tmp_path: Path) -> None:
    """The error about another key does not carry the token along."""
    path = write(
        tmp_path,
        f'[discord]\ntoken = "{TOKEN}"\n[ll2]\napi_key = "{API_KEY}"\nrequests_per_hour = 0\n',
    )
    message = error_of(path)
    assert message == f"ll2.requests_per_hour must be > 0, got 0 ({path})"


# --- config.example.toml ------------------------------------------------------------------

_SECTION = re.compile(r"^\[(\w+)\]\s*$")
_KEY = re.compile(r"^(?P<commented>#\s?)?(?P<key>[a-z_][a-z0-9_]*)\s*=")


def example_keys() -> list[tuple[str, str, bool, int]]:
    """Return (section, key, commented out, line index) for each key line in the example."""
    keys = []
    section = None
    for index, line in enumerate(EXAMPLE.read_text("utf-8").splitlines()):
        header = _SECTION.match(line)
        if header:
            section = header.group(1)
            continue
        match = _KEY.match(line)
        if match and section is not None:
            keys.append((section, match["key"], bool(match["commented"]), index))
    return keys


def test_example_config_loads_to_the_defaults() -> None:
    """config.example.toml loads cleanly and shows the defaults it says it shows."""
    config = load_config(EXAMPLE, env={})
    assert config.source == str(EXAMPLE)
    assert config.discord == DiscordSettings()
    assert config.ll2 == LL2Settings()
    assert config.storage == StorageSettings()
    assert config.alerts == AlertSettings()
    assert config.log == LogSettings()


def test_every_example_key_is_known_and_every_known_key_is_in_the_example() -> None:
    """The example documents exactly the keys tminus reads, commented-out ones included."""
    listed = {(section, key) for section, key, _, _ in example_keys()}
    assert listed == set(SETTINGS)
    active = tomllib.loads(EXAMPLE.read_text("utf-8"))
    for section, values in active.items():
        for key in values:
            assert (section, key) in SETTINGS


def test_secrets_are_commented_out_in_the_example() -> None:
    """The example never carries a token or API key line that would be read."""
    for section, key, commented, _ in example_keys():
        if (section, key) in SECRET_KEYS:
            assert commented, f"{section}.{key} should be commented out"


def test_every_example_key_is_preceded_by_a_comment() -> None:
    """Each key line follows a comment line that explains it (not another key)."""
    lines = EXAMPLE.read_text("utf-8").splitlines()
    for section, key, _, index in example_keys():
        above = lines[index - 1]
        assert above.startswith("#") and not _KEY.match(above), (
            f"{section}.{key} (line {index + 1}) has no comment above it"
        )


def test_huge_durations_are_refused_at_start_up(tmp_path: Path) -> None:
    """A grace of years would overflow date arithmetic later: refused with one line."""
    path = write(tmp_path, '[alerts]\ngrace = "999999999d"\n')
    assert error_of(path) == f"alerts.grace must be between 0s and 24h, got '999999999d' ({path})"


def test_a_misspelt_environment_setting_stops_start_up_with_a_suggestion() -> None:
    """TMINUS_DISCORD_TOKN is not silently ignored; other TMINUS_ names are left alone."""
    with pytest.raises(ConfigError) as caught:
        load_config(None, env={"TMINUS_DISCORD_TOKN": "sekrit-token-value"})
    assert str(caught.value) == (
        "unknown setting TMINUS_DISCORD_TOKN (environment) — did you mean TMINUS_DISCORD_TOKEN?"
    )
    assert "sekrit" not in str(caught.value)
    load_config(None, env={"TMINUS_TEST_POSTGRES_URL": "postgresql://x", "TMINUS_CRASHPOINT": ""})


def test_every_declared_key_names_its_env_var_and_has_a_one_line_doc() -> None:
    """Each declaration carries the env name, a doc line and a default its checks accept."""
    for (section, key), spec in SETTINGS.items():
        assert spec.env == env_name(section, key)
        assert spec.doc and "\n" not in spec.doc and spec.doc.endswith(".")
        if spec.default is not None:
            assert spec.problem(spec.default) is None, spec.name


def _comment_block_above(lines: list[str], index: int) -> list[str]:
    block: list[str] = []
    for line in reversed(lines[:index]):
        if not line.startswith("#") or _KEY.match(line):
            break
        block.insert(0, line.removeprefix("#").strip())
    return block


def test_example_documents_each_key_with_its_doc_line_bounds_and_default() -> None:
    """Each key's comment starts with its declared doc; bounds are stated; values are defaults."""
    lines = EXAMPLE.read_text("utf-8").splitlines()
    for section, key, commented, index in example_keys():
        spec = SETTINGS[(section, key)]
        block = _comment_block_above(lines, index)
        assert block and block[0] == spec.doc, f"{spec.name}: first comment line is not its doc"
        if spec.between is not None:
            bounds = f"between {spec.between[0]} and {spec.between[1]}"
            assert any(bounds in line.lower() for line in block), f"{spec.name}: no '{bounds}'"
        if commented:
            # Only keys without a default (unset, or secrets) are left commented out.
            assert spec.default is None, f"{spec.name} is commented out but has a default"
        else:
            raw = tomllib.loads(f"{key} = " + lines[index].split("=", 1)[1])[key]
            assert spec.convert(raw) == spec.default, f"{spec.name}: example is not the default"
