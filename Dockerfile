# codegen-slack in a container: `docker build -t codegen-slack .` (podman: add `--format docker`, or
# the HEALTHCHECK is dropped), then see compose.yaml or the README's "Deploy" section.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install . \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home codegen-slack \
    && mkdir /data && chown codegen-slack:codegen-slack /data && chmod 0700 /data

# The database lives on a volume: keep it when the container is replaced.
ENV CODEGEN_SLACK_DB=/data/codegen-slack.db \
    PORT=3000
VOLUME ["/data"]
WORKDIR /data
USER codegen-slack
EXPOSE 3000

# 503 (database not writable, a token refused) or no answer makes the container unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '3000') + '/healthz', timeout=4)"]

# SIGTERM lets in-flight work finish (a few seconds) before the bot exits; give it the time.
STOPSIGNAL SIGTERM
CMD ["codegen-slack", "serve"]
