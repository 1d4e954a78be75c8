"""Settings for the app and the batch, read once from the environment and .streamlit/secrets.toml."""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "change-me"


@dataclass(frozen=True)
class SmtpSettings:
    """Where reminder emails go. The password comes from secrets or the environment, never a prompt."""

    host: str
    port: int
    security: str  # "none", "starttls" or "ssl"
    user: str | None
    password: str | None
    sender: str  # the From address


@dataclass(frozen=True)
class SmsSettings:
    """Which gateway texts go through. url is the API base, so tests can point it at a local server."""

    provider: str  # "generic", "semaphore" or "twilio"
    url: str
    token: str  # API key; for Twilio "AccountSid:AuthToken"
    sender: str  # sender name or from number, as the gateway knows it
    timeout: float = 10.0  # seconds, for connecting and again for the answer


SMS_DEFAULT_URLS = {"semaphore": "https://api.semaphore.co", "twilio": "https://api.twilio.com"}


@dataclass(frozen=True)
class PaymentSettings:
    """The online-payment provider (Stripe Checkout). api_base is configurable so tests can point it at
    a local server; without webhook_secret the webhook endpoint refuses to start (reconcile still works)."""

    secret_key: str
    api_base: str = "https://api.stripe.com"
    webhook_secret: str | None = None
    timeout: float = 20.0  # seconds for one API call: a debtor is waiting on the portal


@dataclass(frozen=True)
class Settings:
    environment: str
    database_url: str | None
    data_dir: Path
    cookie_key: str
    cookie_name: str
    cookie_expiry_days: float
    login_sleep_seconds: float
    import_max_mb: float = 200.0  # the app's upload limit (.streamlit/config.toml) is the same
    # Where account documents go: None keeps them in the database (the default, backed up with it).
    documents_dir: Path | None = None
    smtp: SmtpSettings | None = None  # None: email steps wait with "email is not configured"
    sms: SmsSettings | None = None  # None: SMS steps wait with "not connected"
    payments: PaymentSettings | None = None  # None: no online payment (the portal shows bank details only)
    # Where debtors open the portal (make portal): the base of every portal link Recoup writes.
    portal_url: str = "http://localhost:8502"
    # The portal sits behind one reverse proxy that appends the client's address to
    # X-Forwarded-For: the portal counts failed links by that address, not the proxy's.
    portal_behind_proxy: bool = False

    @property
    def import_dir(self) -> Path:
        """Uploaded files and refused-row lists of imports in progress."""
        return self.data_dir / "imports"

    @property
    def production(self) -> bool:
        return self.environment == "production"


def _secrets_file() -> dict[str, object]:
    path = Path(os.environ.get("RECOUP_SECRETS_FILE", PROJECT_ROOT / ".streamlit" / "secrets.toml"))
    if not path.exists():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def _development_cookie_key(data_dir: Path) -> str:
    """A random key kept under the data dir, so dev sign-ins survive a restart."""
    key_file = data_dir / "cookie_key"
    if not key_file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _number(raw: str | None, name: str) -> float:
    try:
        number = float(raw or 0)  # a duration in days or seconds
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}.") from None
    if number < 0:
        raise ConfigError(f"{name} cannot be negative.")
    return number


@cache
def get_settings() -> Settings:
    file = _secrets_file()

    def value(name: str, default: str | None = None) -> str | None:
        found = os.environ.get(name, file.get(name, default))
        return None if found in (None, "") else str(found)

    environment = value("RECOUP_ENV", "development") or "development"
    if environment not in ("development", "production", "test"):
        raise ConfigError(f"RECOUP_ENV must be development, production or test, not {environment!r}.")
    data_dir = Path(value("RECOUP_DATA_DIR") or PROJECT_ROOT / ".data").resolve()
    cookie_key = value("RECOUP_COOKIE_KEY")
    if environment == "production":
        if not cookie_key or cookie_key == PLACEHOLDER or len(cookie_key) < 32:
            raise ConfigError(
                "RECOUP_COOKIE_KEY must be set to a random secret of at least 32 characters in production."
            )
        if not value("DATABASE_URL"):
            raise ConfigError("DATABASE_URL must be set in production (the embedded database is for trying Recoup).")
        if not (value("RECOUP_PORTAL_URL") or "").startswith("https://"):
            raise ConfigError("RECOUP_PORTAL_URL must be the portal's https:// address in production.")
    elif not cookie_key or cookie_key == PLACEHOLDER:
        cookie_key = _development_cookie_key(data_dir)
    return Settings(
        environment=environment,
        database_url=value("DATABASE_URL"),
        data_dir=data_dir,
        cookie_key=cookie_key,
        cookie_name=value("RECOUP_COOKIE_NAME", "recoup_session") or "recoup_session",
        cookie_expiry_days=_number(value("RECOUP_COOKIE_EXPIRY_DAYS", "1"), "RECOUP_COOKIE_EXPIRY_DAYS"),
        login_sleep_seconds=_number(value("RECOUP_LOGIN_SLEEP", "0.5"), "RECOUP_LOGIN_SLEEP"),
        import_max_mb=_number(value("RECOUP_IMPORT_MAX_MB", "200"), "RECOUP_IMPORT_MAX_MB"),
        documents_dir=Path(folder).resolve() if (folder := value("RECOUP_DOCUMENTS_DIR")) else None,
        smtp=_smtp(value),
        sms=_sms(value),
        payments=_payments(value),
        portal_url=_portal_url(value("RECOUP_PORTAL_URL", "http://localhost:8502") or "http://localhost:8502"),
        portal_behind_proxy=(value("RECOUP_PORTAL_BEHIND_PROXY", "") or "").lower() in ("1", "true", "yes"),
    )


def _portal_url(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise ConfigError(f"RECOUP_PORTAL_URL must be an http(s) URL, not {url!r}.")
    return url.rstrip("/")


def _payments(value: Callable[[str, str | None], str | None]) -> PaymentSettings | None:
    secret_key = value("RECOUP_STRIPE_SECRET_KEY", None)
    if not secret_key:
        return None
    if secret_key == PLACEHOLDER:
        raise ConfigError("RECOUP_STRIPE_SECRET_KEY is the placeholder; set the key from Stripe's dashboard.")
    api_base = value("RECOUP_STRIPE_API_BASE", "https://api.stripe.com") or "https://api.stripe.com"
    if not api_base.startswith(("https://", "http://")):
        raise ConfigError(f"RECOUP_STRIPE_API_BASE must be an http(s) URL, not {api_base!r}.")
    webhook_secret = value("RECOUP_STRIPE_WEBHOOK_SECRET", None)
    if webhook_secret == PLACEHOLDER:
        raise ConfigError("RECOUP_STRIPE_WEBHOOK_SECRET is the placeholder; set the endpoint's signing secret.")
    return PaymentSettings(secret_key=secret_key, api_base=api_base.rstrip("/"), webhook_secret=webhook_secret)


def _sms(value: Callable[[str, str | None], str | None]) -> SmsSettings | None:
    provider = value("RECOUP_SMS_PROVIDER", None)
    if not provider:
        return None
    if provider not in ("generic", "semaphore", "twilio"):
        raise ConfigError(f"RECOUP_SMS_PROVIDER must be generic, semaphore or twilio, not {provider!r}.")
    url = value("RECOUP_SMS_URL", SMS_DEFAULT_URLS.get(provider))
    token, sender = value("RECOUP_SMS_TOKEN", None), value("RECOUP_SMS_SENDER", None)
    if not url or not token or not sender or token == PLACEHOLDER:
        raise ConfigError("SMS needs RECOUP_SMS_URL (for generic), RECOUP_SMS_TOKEN and RECOUP_SMS_SENDER.")
    timeout = _number(value("RECOUP_SMS_TIMEOUT", "10"), "RECOUP_SMS_TIMEOUT") or 10.0
    return SmsSettings(provider=provider, url=url, token=token, sender=sender, timeout=timeout)


def _smtp(value: Callable[[str, str | None], str | None]) -> SmtpSettings | None:
    host = value("RECOUP_SMTP_HOST", None)
    if not host:
        return None
    security = value("RECOUP_SMTP_SECURITY", "starttls") or "starttls"
    if security not in ("none", "starttls", "ssl"):
        raise ConfigError(f"RECOUP_SMTP_SECURITY must be none, starttls or ssl, not {security!r}.")
    raw_port = value("RECOUP_SMTP_PORT", {"none": "25", "starttls": "587", "ssl": "465"}[security])
    if not (raw_port or "").isdigit() or not 0 < int(raw_port or 0) < 65536:
        raise ConfigError(f"RECOUP_SMTP_PORT must be a port number, not {raw_port!r}.")
    sender = value("RECOUP_MAIL_FROM", None)
    if not sender or "@" not in sender:
        raise ConfigError("RECOUP_MAIL_FROM must be the address reminders are sent from, e.g. ar@example.com.")
    return SmtpSettings(
        host=host,
        port=int(raw_port or 0),
        security=security,
        user=value("RECOUP_SMTP_USER", None),
        password=value("RECOUP_SMTP_PASSWORD", None),
        sender=sender,
    )
