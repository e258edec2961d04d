#!/usr/bin/env bash
# Validate docker-compose.yml without a Docker engine.
#
# There is no `docker compose` plugin here, so this uses the PyPI docker-compose 1.29.2 (which only
# needs Python to parse and validate a compose file). It lives in its own venv, because it pins old
# PyYAML/requests that must not leak into the project's environment:
#   ${MYCLOUD_COMPOSE_VENV:-$HOME/.cache/mycloud/compose-venv}
# The venv is created on first use (needs PyPI); later runs reuse it.
#
# Usage: scripts/check-compose.sh            (exit 0: the compose file is valid)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MYCLOUD_COMPOSE_VENV:-$HOME/.cache/mycloud/compose-venv}"
compose="$venv/bin/docker-compose"
python="${PYTHON:-python3}"

fail() { echo "check-compose: $*" >&2; exit 1; }

if [[ ! -x "$compose" ]]; then
    echo "check-compose: installing docker-compose 1.29.2 into $venv (one-time)" >&2
    log="$(mktemp "${TMPDIR:-/tmp}/check-compose.XXXXXX.log")"
    {
        "$python" -m venv "$venv" &&
        "$venv/bin/pip" install --disable-pip-version-check --no-input -q "setuptools<70" wheel &&
        "$venv/bin/pip" install --disable-pip-version-check --no-input -q --no-build-isolation "pyyaml==5.4.1" &&
        "$venv/bin/pip" install --disable-pip-version-check --no-input -q "docker-compose==1.29.2"
    } >"$log" 2>&1 || {
        tail -n 20 "$log" >&2
        rm -rf "$venv"  # a half-built venv would be mistaken for a good one next time
        fail "could not install docker-compose 1.29.2 into $venv (log: $log)"
    }
    rm -f "$log"
    [[ -x "$compose" ]] || fail "docker-compose missing from $venv after install"
fi

cd "$repo_root"
[[ -f docker-compose.yml ]] || fail "no docker-compose.yml in $repo_root"

# `config` interpolates ${VAR:-default} from the environment; never let a stray .env or
# COMPOSE_FILE change what is checked.
if ! out="$(COMPOSE_FILE= "$compose" -f docker-compose.yml config -q 2>&1)"; then
    echo "$out" >&2
    fail "docker-compose.yml is invalid (docker-compose 1.29.2 config failed)"
fi
echo "check-compose: docker-compose.yml is valid"
