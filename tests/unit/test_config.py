"""Configuration: production refuses placeholder secrets; database URLs as providers give them."""

from __future__ import annotations

import pytest

from core import config
from core.db import normalize_url
from core.errors import ConfigError

GOOD_KEY = "k" * 40


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """A clean environment with no secrets file; settings re-read for each test."""
    for name in ("DATABASE_URL", "RECOUP_ENV", "RECOUP_COOKIE_KEY", "RECOUP_DATA_DIR", "RECOUP_PORTAL_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RECOUP_SECRETS_FILE", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("RECOUP_DATA_DIR", str(tmp_path / "data"))
    config.get_settings.cache_clear()
    yield monkeypatch
    config.get_settings.cache_clear()


@pytest.mark.parametrize("key", [None, "change-me", "too-short"])
def test_production_refuses_a_missing_or_placeholder_cookie_key(env, key):
    env.setenv("RECOUP_ENV", "production")
    env.setenv("DATABASE_URL", "postgresql://u:p@db/recoup")
    if key:
        env.setenv("RECOUP_COOKIE_KEY", key)
    with pytest.raises(ConfigError, match="RECOUP_COOKIE_KEY"):
        config.get_settings()


def test_production_refuses_the_embedded_database(env):
    env.setenv("RECOUP_ENV", "production")
    env.setenv("RECOUP_COOKIE_KEY", GOOD_KEY)
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        config.get_settings()


def test_production_starts_with_real_secrets(env):
    env.setenv("RECOUP_ENV", "production")
    env.setenv("RECOUP_COOKIE_KEY", GOOD_KEY)
    env.setenv("DATABASE_URL", "postgresql://u:p@db/recoup")
    env.setenv("RECOUP_PORTAL_URL", "https://pay.example.ph/")
    settings = config.get_settings()
    assert settings.production and settings.cookie_key == GOOD_KEY
    assert settings.portal_url == "https://pay.example.ph"


@pytest.mark.parametrize("url", [None, "http://pay.example.ph", "pay.example.ph"])
def test_production_refuses_a_portal_address_debtors_cannot_safely_open(env, url):
    """Reminders carry portal links: a localhost or plain-http address must never reach a debtor."""
    env.setenv("RECOUP_ENV", "production")
    env.setenv("RECOUP_COOKIE_KEY", GOOD_KEY)
    env.setenv("DATABASE_URL", "postgresql://u:p@db/recoup")
    if url:
        env.setenv("RECOUP_PORTAL_URL", url)
    with pytest.raises(ConfigError, match="RECOUP_PORTAL_URL"):
        config.get_settings()


def test_development_makes_and_keeps_its_own_cookie_key(env, tmp_path):
    first = config.get_settings().cookie_key
    config.get_settings.cache_clear()
    assert len(first) >= 32
    assert config.get_settings().cookie_key == first
    assert (tmp_path / "data" / "cookie_key").read_text().strip() == first


def test_settings_come_from_the_secrets_file_when_the_environment_is_silent(env, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('DATABASE_URL = "postgresql://from:file@db/recoup"\n')
    env.setenv("RECOUP_SECRETS_FILE", str(secrets))
    assert config.get_settings().database_url == "postgresql://from:file@db/recoup"


def test_an_unknown_environment_is_refused(env):
    env.setenv("RECOUP_ENV", "staging-ish")
    with pytest.raises(ConfigError, match="RECOUP_ENV"):
        config.get_settings()


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@host:5432/db", "postgresql+psycopg://u:p@host:5432/db"),
        ("postgres://u:p@host/db", "postgresql+psycopg://u:p@host/db"),
        ("postgresql+psycopg://u@host/db", "postgresql+psycopg://u@host/db"),
    ],
)
def test_provider_database_urls_work_as_given(given, used):
    assert normalize_url(given) == used


@pytest.mark.parametrize("given", ["mysql://root@host/db", "sqlite:///recoup.db", "not a url"])
def test_other_databases_are_refused(given):
    with pytest.raises(ConfigError):
        normalize_url(given)


def test_a_setting_that_must_be_a_number_says_so(env):
    env.setenv("RECOUP_COOKIE_EXPIRY_DAYS", "abc")
    with pytest.raises(ConfigError, match="RECOUP_COOKIE_EXPIRY_DAYS must be a number"):
        config.get_settings()
