# alert-receiver: docker build -t alert-receiver .
# Mount the config at /etc/alert-receiver/config.yml and secrets (token files) under
# /run/secrets/; state lives in Redis (redis.url), or in /var/lib/alert-receiver with the
# embedded redis-server (single replica only).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs: pyproject.toml, the runtime lock and receiver/ (see
# .dockerignore). The image gets exactly the versions the suite last passed with: the lock,
# hash-checked, then the package itself without resolving anything.
COPY pyproject.toml requirements.lock /src/
COPY receiver /src/receiver
RUN pip install --require-hashes --no-deps -r /src/requirements.lock \
    && pip install --no-deps --no-build-isolation /src && rm -rf /src \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin alert-receiver \
    && mkdir -p /etc/alert-receiver /var/lib/alert-receiver \
    && chown alert-receiver:alert-receiver /var/lib/alert-receiver

USER 10001:10001
WORKDIR /var/lib/alert-receiver
VOLUME ["/var/lib/alert-receiver"]
EXPOSE 9095

# /health/live: 200 while the process can still recover by itself (503 once it has given
# up). No curl in the slim image: Python's urllib fails (exit 1) on a refused connection,
# a timeout or any non-2xx answer. 9095 is the port `listen` gives in the config.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9095/health/live', timeout=3)"]

ENTRYPOINT ["alert-receiver"]
CMD ["serve", "--config", "/etc/alert-receiver/config.yml", "--data-dir", "/var/lib/alert-receiver"]
