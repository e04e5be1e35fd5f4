"""Django settings, all from HAVEN_* environment variables (see docs/configuration.md).

The embedded default needs nothing set: SQLite, the secret key and the field
encryption key live in ``HAVEN_DATA_DIR`` (default ``./var``) and are generated on
first start.  A production deployment sets ``HAVEN_DATABASE_URL`` (PostgreSQL),
``HAVEN_SECRET_KEY`` and ``HAVEN_ENCRYPTION_KEYS`` explicitly.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from .env import env_bool, env_int, env_list, env_secret, env_str

WEB_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = Path(env_str("HAVEN_DATA_DIR", "var")).resolve()

DEBUG = env_bool("HAVEN_DEBUG", False)
DATABASE_URL = (
    env_secret("HAVEN_DATABASE_URL") or ""
)  # or HAVEN_DATABASE_URL_FILE: the URL may hold a password
EMBEDDED = DATABASE_URL == "" or DATABASE_URL.startswith("sqlite")


def _generated_secret(name: str, make: str) -> str:
    """A secret kept in the data dir: only for the embedded (single-machine) default."""
    DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = DATA_DIR / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make)
    return path.read_text().strip()


SECRET_KEY = env_secret("HAVEN_SECRET_KEY") or ""
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured("HAVEN_SECRET_KEY (or HAVEN_SECRET_KEY_FILE) must be set with PostgreSQL")
    SECRET_KEY = _generated_secret("secret_key", secrets.token_urlsafe(50))

_keys = env_secret("HAVEN_ENCRYPTION_KEYS") or ""
if not _keys:
    if not EMBEDDED:
        raise ImproperlyConfigured(
            "HAVEN_ENCRYPTION_KEYS (or HAVEN_ENCRYPTION_KEYS_FILE) must be set with PostgreSQL"
        )
    _keys = _generated_secret("encryption_keys", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
HAVEN_ENCRYPTION_KEYS = [k.strip() for k in _keys.split(",") if k.strip()]

# The audit chain's keys (HMAC-SHA256 links, Ed25519 checkpoints derived from them): the first makes
# new links, the others still verify older ones.  Kept out of the database, so that someone who can
# write to it cannot recompute the chain.
_audit_keys = env_secret("HAVEN_AUDIT_KEYS") or ""
if not _audit_keys:
    if not EMBEDDED:
        raise ImproperlyConfigured("HAVEN_AUDIT_KEYS (or HAVEN_AUDIT_KEYS_FILE) must be set with PostgreSQL")
    _audit_keys = _generated_secret("audit_keys", base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
HAVEN_AUDIT_KEYS = [k.strip() for k in _audit_keys.split(",") if k.strip()]

ALLOWED_HOSTS = env_list("HAVEN_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("HAVEN_CSRF_TRUSTED_ORIGINS", [])

if DATABASE_URL:
    # Connections are kept for a minute, and checked before a request reuses one: after the
    # database restarts, the next request reconnects instead of failing on a dead connection.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "haven.sqlite3"),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds the portal's rate limits and lock-outs, so every server process must share it:
# the database by default (no extra service), Redis when HAVEN_REDIS_URL is set.
_redis = env_str("HAVEN_REDIS_URL", "")
if _redis:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis}}
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "haven_cache"}
    }

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "ninja",  # serves the API docs page's Swagger UI from our static files, not a CDN
    "django_tasks",
    "django_tasks_db",
    "haven.web.core",
    "haven.web.accounts",
    "haven.web.audit",
    "haven.web.cases",
    "haven.web.referrals",
    "haven.web.portal",
    "haven.web.takedown",
    "haven.web.monitoring",
    "haven.web.sharing",
    "haven.web.federation",
    "haven.web.reports",
    "haven.web.notifications",
    "haven.web.awareness",
    "haven.web.training",
]

MIDDLEWARE = [
    "haven.web.core.middleware.NoTraceMiddleware",  # outermost: it sees every answer last
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "haven.web.core.middleware.ApiJsonErrorsMiddleware",
    "haven.web.core.middleware.SecurityHeadersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "haven.web.core.middleware.IdleTimeoutMiddleware",
    "haven.web.core.middleware.OrganisationTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "haven.web.config.urls"
WSGI_APPLICATION = "haven.web.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "haven.web.core.context.haven",
                "haven.web.notifications.context.unread",
            ],
        },
    }
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "cases:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"

# Staff must pass a second factor (TOTP) on every login.
HAVEN_REQUIRE_TWO_FACTOR = env_bool("HAVEN_REQUIRE_TWO_FACTOR", True)
OTP_TOTP_ISSUER = "Haven"

# Login throttling: lock an account+address after 5 failures for 30 minutes.
AXES_FAILURE_LIMIT = env_int("HAVEN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False
# The address waitress settled on (behind HAVEN_BEHIND_PROXY: the one the trusted proxy appended),
# never X-Forwarded-For as the client wrote it: were django-ipware ever installed, axes would
# otherwise read the leftmost entry, which a client can forge to escape its lock-out.
AXES_CLIENT_IP_CALLABLE = "haven.web.core.access.client_address"

# Sessions end after 30 idle minutes and with the browser.
HAVEN_IDLE_TIMEOUT_SECONDS = env_int("HAVEN_IDLE_TIMEOUT_SECONDS", 30 * 60, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = HAVEN_IDLE_TIMEOUT_SECONDS
SESSION_SAVE_EVERY_REQUEST = True

_secure = env_bool("HAVEN_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = _secure
CSRF_COOKIE_SECURE = _secure
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating reverse proxy, `haven serve` trusts the proxy's X-Forwarded-For and
# X-Forwarded-Proto (from HAVEN_TRUSTED_PROXY only), so that rate limits and lock-outs key on the
# real client and HTTPS is recognised; HSTS is then on by default.
HAVEN_BEHIND_PROXY = env_bool("HAVEN_BEHIND_PROXY", False)
HAVEN_TRUSTED_PROXY = env_str("HAVEN_TRUSTED_PROXY", "127.0.0.1")
SECURE_SSL_REDIRECT = env_bool("HAVEN_SSL_REDIRECT", False)
# Health checks and scrapers on the machine itself speak plain HTTP to the server.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("HAVEN_HSTS_SECONDS", 31_536_000 if HAVEN_BEHIND_PROXY else 0, minimum=0)
if HAVEN_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# No inline script or style anywhere; no third party.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

LANGUAGE_CODE = "en"
# The six UN languages and Korean.  Arabic is written right to left: pages take ``dir`` from
# Django's LANGUAGES_BIDI and the style sheets use logical properties only (docs/languages.md).
LANGUAGES = [
    ("ar", _("Arabic")),
    ("en", _("English")),
    ("es", _("Spanish")),
    ("fr", _("French")),
    ("ko", _("Korean")),
    ("ru", _("Russian")),
    ("zh-hans", _("Simplified Chinese")),
]
LOCALE_PATHS = [WEB_DIR / "locale"]
FORMAT_MODULE_PATH = ["haven.web.formats"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# The practice forum at /practice/ that the demo's monitoring and takedown desk work against
# (``haven serve --demo`` turns it on, and lets the fetcher reach loopback for it).
HAVEN_PRACTICE_SITE = env_bool("HAVEN_PRACTICE_SITE", False)
# The safe fetcher (evidence capture, rechecks): loopback only for a test site on this machine.
HAVEN_FETCH_ALLOW_LOOPBACK = env_bool("HAVEN_FETCH_ALLOW_LOOPBACK", False)
# Peer centres on loopback or a private network (a VPN between centres): off, so that a peer's
# address cannot point the worker at the server's own neighbourhood.
HAVEN_PEER_ALLOW_PRIVATE = env_bool("HAVEN_PEER_ALLOW_PRIVATE", False)
HAVEN_PEER_PAGE_SIZE = env_int("HAVEN_PEER_PAGE_SIZE", 1000, minimum=1)  # records a feed page (1 to 1000)
HAVEN_FETCH_MAX_BYTES = env_int("HAVEN_FETCH_MAX_BYTES", 25 * 2**20, minimum=1024)
HAVEN_FETCH_TIMEOUT_SECONDS = env_int("HAVEN_FETCH_TIMEOUT_SECONDS", 30, minimum=1)

# Evidence screenshots: off unless asked for; taken by Chromium (pip install 'haven[screenshots]'),
# every request it makes answered by the safe fetcher; stored encrypted and deleted after the days given.
HAVEN_EVIDENCE_SCREENSHOTS = env_bool("HAVEN_EVIDENCE_SCREENSHOTS", False)
# Reports: counts under the threshold are hidden (with enough others that none can be worked out);
# published counts may be rounded to a base. Change them only between years: two runs of one year's
# report under different rules could be compared.
HAVEN_REPORT_THRESHOLD = env_int("HAVEN_REPORT_THRESHOLD", 10, minimum=3)
HAVEN_REPORT_ROUND_TO = env_int("HAVEN_REPORT_ROUND_TO", 1, minimum=1)
HAVEN_EVIDENCE_SCREENSHOT_DAYS = env_int("HAVEN_EVIDENCE_SCREENSHOT_DAYS", 30, minimum=1)
HAVEN_CHROMIUM = env_str("HAVEN_CHROMIUM", "/usr/bin/chromium")
# Signed audit checkpoints: where the worker appends them (a place the database cannot rewrite),
# how often, and who also gets each by e-mail.
HAVEN_AUDIT_CHECKPOINT_DIR = Path(env_str("HAVEN_AUDIT_CHECKPOINT_DIR", str(DATA_DIR / "audit-checkpoints")))
HAVEN_AUDIT_CHECKPOINT_MINUTES = env_int("HAVEN_AUDIT_CHECKPOINT_MINUTES", 10, minimum=1)
HAVEN_AUDIT_CHECKPOINT_EMAIL = env_list("HAVEN_AUDIT_CHECKPOINT_EMAIL", [])
# The address staff reach this server at (https://haven.example.org), for links in notification
# e-mails; without it the e-mails ask them to sign in, with no link.
HAVEN_BASE_URL = env_str("HAVEN_BASE_URL", "").rstrip("/")
if HAVEN_BASE_URL and not HAVEN_BASE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("HAVEN_BASE_URL must start with https:// (or http://)")
# Where the portal's Quick exit goes unless the one centre on this server set its own: an ordinary,
# harmless page.
HAVEN_PORTAL_EXIT_URL = env_str("HAVEN_PORTAL_EXIT_URL", "https://www.google.com/search?q=weather")

# A job whose worker has not been heard from for this long is failed and run again once (a worker
# beats every 30 s, or every third of this when it is shorter).
HAVEN_WORKER_LOST_SECONDS = env_int("HAVEN_WORKER_LOST_SECONDS", 300, minimum=3)

# Snapshots of the matching indexes that several server processes map and share (haven serve
# --workers writes them); each process keeps only the changes since in its own memory.
HAVEN_INDEX_DIR = Path(env_str("HAVEN_INDEX_DIR", str(DATA_DIR / "index")))

# Prometheus scrapes /metrics with this bearer token (and /healthz then gives details).
# Unset, /metrics is a 404.
HAVEN_METRICS_TOKEN = env_secret("HAVEN_METRICS_TOKEN") or ""

# Scheduled scans run in the worker; a Dask scheduler address (tcp://HOST:8786) spreads them out.
HAVEN_SCAN_SCHEDULER = env_str("HAVEN_SCAN_SCHEDULER", "")

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

EMAIL_BACKEND = env_str("HAVEN_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("HAVEN_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("HAVEN_EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("HAVEN_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = env_secret("HAVEN_EMAIL_PASSWORD") or ""
EMAIL_USE_TLS = env_bool("HAVEN_EMAIL_TLS", False)
DEFAULT_FROM_EMAIL = env_str("HAVEN_EMAIL_FROM", "haven@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"no_403_traceback": {"()": "haven.web.core.middleware.NoTracebackFor403"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("HAVEN_LOG_LEVEL", "WARNING")},
    "loggers": {"django.request": {"filters": ["no_403_traceback"]}},
}
