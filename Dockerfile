# syntax=docker/dockerfile:1
# Murror realtime: `daphne murror.asgi:application` as a non-root user. No secret is baked in:
# REDIS_URL and SECRET_KEY come from the environment (Kubernetes: Secret murror-api-secret).

# Builder: the dependencies in a virtualenv, in a layer that changes only with the lock file:
# every package, transitive ones too, pinned and checked against its hashes (bin/lock).
FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-virtualenv --require-hashes -r /tmp/requirements.lock

# Final: the slim base, the virtualenv, the code, and the admin's collected static files.
FROM python:3.11-slim
# The embedded default's SQLite file lives in /app/data, a volume in Kubernetes, where the root
# file system is read-only. A DATABASE_URL from the Secret replaces it.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    DATABASE_URL=sqlite:////app/data/db.sqlite3
RUN groupadd --system --gid 10001 murror \
    && useradd --system --uid 10001 --gid murror --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin murror \
    && install --directory --owner=murror --group=murror /app/data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . .
# settings.py refuses to load without SECRET_KEY when DEBUG is false: a throwaway value for this
# one command only, so it is in no layer's environment. The code stays root-owned (read-only).
RUN SECRET_KEY=collectstatic-at-build-time-only python manage.py collectstatic --noinput \
    && python -m compileall -q murror realtime
USER 10001:10001
EXPOSE 8000
# The slim image has no curl: the standard library asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# -e rather than -b/-p: the same port with a listen backlog of 4096, not Twisted's 50, so a
# storm of reconnects is not met with dropped SYNs and 1 s retries (docs/deploying.md, Listen backlog).
# Messages up to 68 KiB, not daphne's 1 MiB: just above REALTIME_MAX_FRAME_BYTES (64 KiB), so a
# frame a little over it gets the app's too_large and a bigger one costs at most 68 KiB.
CMD ["daphne", "-e", "tcp:port=8000:interface=0.0.0.0:backlog=4096", "--websocket-max-message-size", "69632", "murror.asgi:application"]
