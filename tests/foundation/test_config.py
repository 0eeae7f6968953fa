from pathlib import Path

import pytest

from portal.config import ConfigError, load_settings, parse_quiet_hours

STRONG = "x" * 48
PROD = {"PORTAL_ENV": "production", "SECRET_KEY": STRONG, "PUBLIC_BASE_URL": "https://portal.example.org"}


def test_development_generates_a_secret_once(tmp_path: Path):
    env = {"PORTAL_INSTANCE_PATH": str(tmp_path)}
    first = load_settings(env)
    second = load_settings(env)
    assert len(first.secret_key) >= 32
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_defaults_are_sqlite_under_instance_and_shanghai(tmp_path: Path):
    settings = load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    assert settings.default_locale == "zh_Hans_CN"
    assert settings.default_timezone == "Asia/Shanghai"
    assert settings.sms_backend == "console"
    assert str(settings.quiet_hours) == "21:00-08:00"


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "dev"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short-but-not-empty"}, "SECRET_KEY"),
        ({"SMS_BACKEND": "twilio"}, "TWILIO_ACCOUNT_SID"),
        (
            {"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"},
            "TWILIO_FROM_NUMBER",
        ),
        ({"PUBLIC_BASE_URL": "http://portal.example.org"}, "PUBLIC_BASE_URL"),
    ],
)
def test_production_refuses_unsafe_settings_naming_the_variable(tmp_path: Path, change, variable):
    env = {**PROD, "PORTAL_INSTANCE_PATH": str(tmp_path), **change}
    with pytest.raises(ConfigError) as error:
        load_settings(env)
    message = str(error.value)
    assert variable in message
    assert "\n" not in message
    assert not (tmp_path / "secret_key").exists()


def test_production_starts_with_safe_settings(tmp_path: Path):
    settings = load_settings({**PROD, "PORTAL_INSTANCE_PATH": str(tmp_path)})
    assert settings.is_production


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORTAL_ENV", "staging"), ("DEFAULT_LOCALE", "fr"), ("DEFAULT_TIMEZONE", "Mars/Olympus"),
     ("SMS_BACKEND", "pigeon"), ("QUIET_HOURS", "late")],
)
def test_bad_values_are_refused_with_the_variable_named(tmp_path: Path, name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings({"PORTAL_INSTANCE_PATH": str(tmp_path), name: value})


def test_quiet_hours_wrap_midnight():
    from datetime import time

    quiet = parse_quiet_hours("21:00-08:00")
    assert quiet.contains(time(23, 0)) and quiet.contains(time(7, 59)) and quiet.contains(time(21, 0))
    assert not quiet.contains(time(8, 0)) and not quiet.contains(time(20, 59))
    day_quiet = parse_quiet_hours("12:00-13:30")
    assert day_quiet.contains(time(12, 30)) and not day_quiet.contains(time(13, 30))


def test_production_app_refuses_to_start_without_secret(tmp_path: Path, monkeypatch):
    from portal import create_app

    for key, value in {**PROD, "SECRET_KEY": "", "PORTAL_INSTANCE_PATH": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
