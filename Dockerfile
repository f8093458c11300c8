# syntax=docker/dockerfile:1
# Build stage: wheels of the bot and all its dependencies, so the final image needs no compiler.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY content ./content
COPY storage ./storage
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 digest && mkdir /data && chown digest /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
USER digest
WORKDIR /home/digest
# SQLite by default, in the volume; docker-compose.yml switches to PostgreSQL.
ENV DATABASE_URL=sqlite+aiosqlite:////data/digest.db \
    METRICS_PORT=9100 \
    WEBHOOK_PORT=8443
VOLUME ["/data"]
EXPOSE 8443 9100
# slim has no curl; urlopen raises on a 503, so the exit code follows /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request as r; r.urlopen('http://127.0.0.1:%s/healthz' % os.environ['METRICS_PORT'], timeout=4)"
# `run` applies the migrations before it starts, so an upgrade is a new image and a restart.
ENTRYPOINT ["digest-bot"]
CMD ["run"]
