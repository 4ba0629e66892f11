#!/usr/bin/env bash
# Creates .venv (if missing) and installs the project with its dev and bench extras.
# Sourced by tests/run.sh and testnet/demo.sh so both commands set up the same environment.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
