# MyCloud image: one image for every role; the command picks it.
#   docker build -t mycloud .
#   docker run --rm mycloud --help
#   docker run mycloud api --host 0.0.0.0     (see docker-compose.yml for the full stack)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MYCLOUD_DATA_DIR=/data \
    MYCLOUD_LOG_FORMAT=json

WORKDIR /src

# Only what `pip install .` needs (the build context has no .dockerignore: don't copy .venv/.git).
# README.m[d] is a glob so the build still works while README.md (pyproject's `readme`) is absent.
COPY pyproject.toml README.m[d] ./
COPY events ./events
COPY handlers ./handlers
COPY projections ./projections
COPY bus ./bus
COPY api ./api
COPY storage ./storage
COPY mycloud ./mycloud

RUN test -f README.md || printf '# MyCloud\n' > README.md \
 && pip install . \
 && cd / && rm -rf /src

# Non-root. /data is created owned by that user so a fresh named volume mounted there inherits it.
RUN groupadd --system --gid 10001 mycloud \
 && useradd --system --uid 10001 --gid mycloud --home-dir /data --shell /usr/sbin/nologin mycloud \
 && mkdir -p /data \
 && chown mycloud:mycloud /data

USER mycloud
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9080

ENTRYPOINT ["mycloud"]
CMD ["--help"]
