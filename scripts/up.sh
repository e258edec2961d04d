#!/usr/bin/env bash
# Install MyCloud into ./.venv (once) and start the whole stack: `mycloud up`.
# Extra arguments go to `mycloud up` (e.g. --data-dir DIR --port 9080).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install.sh
exec .venv/bin/mycloud up "$@"
