# syntax=docker/dockerfile:1
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY content ./content
COPY storage ./storage
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 digest && mkdir /data && chown digest /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
USER digest
WORKDIR /home/digest
ENV DATABASE_URL=sqlite+aiosqlite:////data/digest.db
VOLUME ["/data"]
ENTRYPOINT ["digest-bot"]
CMD ["run"]
