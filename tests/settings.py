"""The project's settings, read from a clean environment: a developer's .env or shell
variables must not change what the tests see. Pods started by tests get their own env."""

import os

os.environ["ENV_FILE"] = "/nonexistent/.env"
os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
for variable in ("REDIS_URL", "REDIS_REQUIRED", "DEBUG", "POD_NAME", "DATABASE_URL"):
    os.environ.pop(variable, None)
for variable in [name for name in os.environ if name.startswith("REALTIME_")]:
    os.environ.pop(variable)

from murror.settings import *  # noqa: E402, F403

# Django's test client speaks plain HTTP, with no TLS proxy in front (test_production.py checks
# the production values).
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
