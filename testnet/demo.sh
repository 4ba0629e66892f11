#!/usr/bin/env bash
# Sets up .venv and runs the main job: the threshold re-encryption sharing demo, then the crypto
# benchmark (until the multi-process testnet lands, the sharing flow runs in one process).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/iomtshare demo --nodes 4 --threshold 3
.venv/bin/iomtshare bench crypto --runs 50 --pyecc-runs 1 --json bench-results/crypto.json
