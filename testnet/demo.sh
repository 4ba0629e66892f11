#!/usr/bin/env bash
# Sets up .venv, then runs the main job on a real local network:
#   1. a 4-node testnet (separate `iomtshare node start` processes on loopback),
#   2. an owner stores a file, grants a requester, the requester asks for it, the nodes vote and
#      re-encrypt (t = 3 of 4), the requester fetches and decrypts it and compares it with the
#      original, the explorer shows the sharing-audit record,
#   3. the crypto benchmark.
# The testnet is always stopped on exit (trap), also when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

CLI=.venv/bin/iomtshare
PY=.venv/bin/python
WORK=$(mktemp -d "${TMPDIR:-/tmp}/iomtshare-demo.XXXXXX")
DIR=${IOMTSHARE_DEMO_DIR:-$WORK/testnet}
cleanup() {
  status=$?
  "$CLI" testnet down --dir "$DIR" --grace 10 || true
  if [ "$status" -eq 0 ]; then
    rm -rf "$WORK"
  else
    echo "demo failed (status $status); node logs kept in $DIR/node*/node.log" >&2
  fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
field() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

step "testnet up: 4 nodes, threshold 3, in $DIR"
"$CLI" testnet up --nodes 4 --threshold 3 --dir "$DIR" --force --block-interval-ms 300 --round-timeout-ms 1000
IOMTSHARE_NODE=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["nodes"][0]["http_url"])' "$DIR/network.json")
IOMTSHARE_AUTHORITY_KEY="$DIR/authority/authority_key"
export IOMTSHARE_NODE IOMTSHARE_AUTHORITY_KEY
LAST_NODE=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["nodes"][-1]["http_url"])' "$DIR/network.json")

step "members: alice (owner) and bob (requester) make keys; the authority registers them"
for who in alice:owner bob:requester; do
  name=${who%%:*}; role=${who##*:}
  "$CLI" client keygen --member "$WORK/$name" --role "$role"
  "$CLI" authority register "$WORK/$name" --attr "role:$role"
  "$CLI" client publish-key --member "$WORK/$name"
done

step "alice stores a file (encrypted, erasure-coded 3-of-4 across the nodes)"
"$PY" - "$WORK/ecg.csv" <<'EOF'
import math, sys
with open(sys.argv[1], "w") as out:
    out.write("t_ms,lead_ii_mV\n")
    for i in range(4000):
        out.write(f"{i * 4},{math.sin(i / 25) * 1.1 + math.sin(i / 3) * 0.05:.4f}\n")
EOF
RECORD=$("$CLI" client put "$WORK/ecg.csv" --member "$WORK/alice" --keyword ecg --json | field record_id)
echo "record $RECORD"

step "alice grants bob (re-key shares sealed to each node)"
BOB=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["member_id"])' "$WORK/bob/member.json")
"$CLI" client grant "$RECORD" "$BOB" --member "$WORK/alice"

step "bob requests the record from node 4; the nodes vote, share, elect a leader, commit"
REQUEST=$("$CLI" client request "$RECORD" --member "$WORK/bob" --node "$LAST_NODE" --json | field request_id)
echo "request $REQUEST granted"

step "bob fetches the fragments, decrypts, and compares with the original"
"$CLI" client fetch "$RECORD" "$REQUEST" --member "$WORK/bob" -o "$WORK/ecg.copy.csv"
cmp "$WORK/ecg.csv" "$WORK/ecg.copy.csv"
echo "ok: bob's copy is byte-identical to alice's file"

step "explorer: the sharing-audit chain of the record, the chain status and a ledger check"
"$CLI" explore audit --record "$RECORD"
"$CLI" testnet status --dir "$DIR"
"$CLI" explore verify

step "crypto benchmark"
"$CLI" bench crypto --runs 50 --pyecc-runs 1 --json bench-results/crypto.json
