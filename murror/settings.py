"""Settings, all from the environment or an optional `.env` at the project root
(docs/operations.md, Configuration)."""

from __future__ import annotations

import socket
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from realtime.pod.layers import channel_layers_for
from realtime.redis.url import TlsOptions, redis_url_setting

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
ENV_FILE = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
# Rotation: the new key in SECRET_KEY, the old ones here until their sessions and tokens expire.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is false: set SECRET_KEY in the environment "
            "or .env (for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
        )
    SECRET_KEY = "django-insecure-development-key-only-used-when-DEBUG-is-true"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"] if DEBUG else [])
# Behind a TLS-terminating Ingress the admin's login POST comes with an https:// Origin.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
DEFAULT_EXCEPTION_REPORTER_FILTER = "realtime.web.reporting.SecretsHiddenFilter"

# HTTPS, on by default when DEBUG is false (docs/deploying.md, HTTPS). Behind a TLS-terminating
# proxy that sets X-Forwarded-Proto (ingress-nginx does, and overwrites a client's), Django
# knows a request came over HTTPS from it. /healthz, /readyz, /metrics, /ws/ and /socket.io/
# are served before Django, so probes and scrapers over plain HTTP are never redirected.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("TRUST_X_FORWARDED_PROTO", default=not DEBUG)
    else None
)  # fmt: skip
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# Preloading is a promise to browser vendors that only the domain's owner can make.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
POD_NAME = env.str("POD_NAME", default=socket.gethostname())

REDIS_URL = env.str("REDIS_URL", default="")
REDIS_REQUIRED = env.bool("REDIS_REQUIRED", default=False)
REDIS_TLS = TlsOptions(
    ca_file=env.str("REDIS_TLS_CA_FILE", default="") or None,
    verify=env.bool("REDIS_TLS_VERIFY", default=True),
)
REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=5.0)
# redis+sentinel:// only: the sentinels' own password (the URL's is the data nodes').
REDIS_SENTINEL_PASSWORD = env.str("REDIS_SENTINEL_PASSWORD", default="") or None
# The layer REDIS_URL asks for; start-up may swap it for memory (realtime.pod.layers). The
# realtime code reads REDIS_URL through realtime.config, which parses it once more.
CHANNEL_LAYERS = channel_layers_for(
    redis_url_setting(REDIS_URL, REDIS_TLS, REDIS_SENTINEL_PASSWORD)
)

REALTIME_MAX_FRAME_BYTES = env.int("REALTIME_MAX_FRAME_BYTES", default=65536)
REALTIME_MAX_ROOMS = env.int("REALTIME_MAX_ROOMS", default=100)
REALTIME_RATE = env.float("REALTIME_RATE", default=50.0)
REALTIME_BURST = env.int("REALTIME_BURST", default=100)
REALTIME_POD_INBOX = env.int("REALTIME_POD_INBOX", default=10000)
REALTIME_HEARTBEAT_SECONDS = env.float("REALTIME_HEARTBEAT_SECONDS", default=5.0)
REALTIME_MEMBERS_CACHE_SECONDS = env.float("REALTIME_MEMBERS_CACHE_SECONDS", default=0.5)
REALTIME_POD_TIMEOUT_SECONDS = env.int("REALTIME_POD_TIMEOUT_SECONDS", default=30)
REALTIME_REQUIRE_AUTH = env.bool("REALTIME_REQUIRE_AUTH", default=False)
REALTIME_ALLOWED_ORIGINS = env.list("REALTIME_ALLOWED_ORIGINS", default=[])
REALTIME_TOKEN_MAX_AGE = env.int("REALTIME_TOKEN_MAX_AGE", default=3600)
REALTIME_DRAIN_SECONDS = env.float("REALTIME_DRAIN_SECONDS", default=10.0)
REALTIME_REDIS_RETRY_SECONDS = env.float("REALTIME_REDIS_RETRY_SECONDS", default=5.0)
REALTIME_STATS_SECONDS = env.float("REALTIME_STATS_SECONDS", default=5.0)
REALTIME_DEMO = env.bool("REALTIME_DEMO", default=DEBUG)
REALTIME_SIO_PING_INTERVAL = env.float("REALTIME_SIO_PING_INTERVAL", default=25.0)
REALTIME_SIO_PING_TIMEOUT = env.float("REALTIME_SIO_PING_TIMEOUT", default=20.0)
REALTIME_SIO_CONNECT_TIMEOUT = env.float("REALTIME_SIO_CONNECT_TIMEOUT", default=45.0)
REALTIME_SIO_POLL_BUFFER_BYTES = env.int("REALTIME_SIO_POLL_BUFFER_BYTES", default=1048576)
REALTIME_SLOW_CLIENT_SECONDS = env.float("REALTIME_SLOW_CLIENT_SECONDS", default=10.0)
REALTIME_HANDLERS = env.list("REALTIME_HANDLERS", default=[])
REALTIME_ROOM_AUTHORIZER = env.str("REALTIME_ROOM_AUTHORIZER", default="")
REALTIME_MAX_CONNECTIONS = env.int("REALTIME_MAX_CONNECTIONS", default=20000)
REALTIME_MAX_CONNECTIONS_PER_ADDRESS = env.int("REALTIME_MAX_CONNECTIONS_PER_ADDRESS", default=256)
REALTIME_TRUSTED_PROXIES = env.list("REALTIME_TRUSTED_PROXIES", default=[])
REALTIME_JWT_KEY = env.str("REALTIME_JWT_KEY", default="")
REALTIME_JWT_ALGORITHMS = env.list("REALTIME_JWT_ALGORITHMS", default=["HS256"])
REALTIME_JWT_AUDIENCE = env.str("REALTIME_JWT_AUDIENCE", default="")

INSTALLED_APPS = [
    "daphne",
    "realtime.admin.apps.RealtimeAdminConfig",  # django.contrib.admin with the Realtime page
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "realtime",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "murror.urls"
ASGI_APPLICATION = "murror.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Compressed but not hashed names: no manifest, so admin pages render even where
# collectstatic has not run (tests, a checkout); the image runs it at build time.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "realtime": {"handlers": ["stderr"], "level": LOG_LEVEL, "propagate": False},
        "django": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
}
