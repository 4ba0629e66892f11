#!/usr/bin/env bash
# Sets up .venv, then runs the main job on a real local network:
#   1. a 4-node testnet and one edge (separate `iomtshare node start` / edge processes on
#      loopback),
#   2. an owner stores a file, grants a requester, the requester asks for it, the nodes vote and
#      re-encrypt (t = 3 of 4), the requester fetches and decrypts it and compares it with the
#      original, the explorer shows the sharing-audit record,
#   3. the authority registers a sensor for the owner (a patient) at the edge; the sensor uploads
#      a few ECG readings to the edge, which submits them as records; a doctor whose attributes
#      satisfy the sensor's policy requests one, fetches it through the edge, decrypts it and
#      compares it with what the sensor sent,
#   4. the crypto benchmark.
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
  if ! "$CLI" testnet down --dir "$DIR" --grace 10; then
    # The command itself failed (e.g. the package does not import): stop this demo's
    # processes by the pids their homes recorded, if they still run a home of $DIR.
    for pidfile in "$DIR"/node*/node.pid "$DIR"/edge*/node.pid; do
      [ -f "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--home $DIR/"; then
        kill "$pid" || true
      fi
    done
  fi
  if [ "$status" -eq 0 ]; then
    rm -rf "$WORK"
  else
    echo "demo failed (status $status); node logs kept in $DIR/node*/node.log" >&2
  fi
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
field() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

step "testnet up: 4 nodes, threshold 3, one edge, in $DIR"
"$CLI" testnet up --nodes 4 --threshold 3 --edges 1 --dir "$DIR" --force --block-interval-ms 300 --round-timeout-ms 1000
IOMTSHARE_NODE=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["nodes"][0]["http_url"])' "$DIR/network.json")
IOMTSHARE_AUTHORITY_KEY="$DIR/authority/authority_key"
export IOMTSHARE_NODE IOMTSHARE_AUTHORITY_KEY
LAST_NODE=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["nodes"][-1]["http_url"])' "$DIR/network.json")
EDGE_URL=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["edges"][0]["http_url"])' "$DIR/network.json")
EDGE_HOME="$DIR/$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["edges"][0]["home"])' "$DIR/network.json")"

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
"$CLI" explore verify

step "a sensor for alice (the patient) at the edge; the authority drops its grant into the edge"
"$CLI" client keygen --member "$WORK/doctor" --role requester
"$CLI" authority register "$WORK/doctor" --attr role:doctor
"$CLI" client publish-key --member "$WORK/doctor"
"$CLI" authority issue-keys "$WORK/doctor" --authority-dir "$DIR/authority"
"$CLI" keys show --home "$EDGE_HOME" --json > "$WORK/edge.json"
# The real identity goes in on stdin (a builtin's output), never on a command line.
printf '%s\n' "Alice Patient, MRN 0001" | "$CLI" sensor register --real-id-file - --owner "$WORK/alice" \
  --edge-info "$WORK/edge.json" --edge-url "$EDGE_URL" --policy role:doctor \
  --profile-out "$WORK/sensor" --grant-out "$WORK/alice.grant" --json > "$WORK/sensor.json"
DEVICE=$(field device_id < "$WORK/sensor.json")
mkdir -p "$EDGE_HOME/sensors/grants"
cp "$WORK/alice.grant" "$EDGE_HOME/sensors/grants/"

step "the sensor uploads three ECG readings to the edge; the edge submits them as alice's records"
for i in 0 1 2; do
  "$PY" - "$WORK/reading$i.csv" "$i" <<'EOF'
import math, sys
i = int(sys.argv[2])
with open(sys.argv[1], "w") as out:
    out.write("t_ms,lead_ii_mV\n")
    for k in range(250 * i, 250 * (i + 1)):
        out.write(f"{k * 4},{math.sin(k / 25) * 1.1 + math.sin(k / 3) * 0.05:.4f}\n")
EOF
  "$CLI" sensor upload --profile "$WORK/sensor" "$WORK/reading$i.csv" --json | field record_id > "$WORK/reading$i.id"
done
SENSOR_RECORD=$(cat "$WORK/reading0.id")
echo "records $(cat "$WORK"/reading*.id | tr '\n' ' ')"
# Until the edge reports each record committed and its fragments stored on the nodes.
"$PY" - "$EDGE_URL" "$DEVICE" "$WORK"/reading*.id <<'EOF'
import sys
from pathlib import Path
from client.device_upload import wait_stored
edge, device = sys.argv[1], bytes.fromhex(sys.argv[2])
for path in sys.argv[3:]:
    wait_stored(edge, device, bytes.fromhex(Path(path).read_text().strip()), timeout=180)
EOF

step "the doctor requests the first reading and fetches it through the edge"
SENSOR_REQUEST=$("$CLI" client request "$SENSOR_RECORD" --member "$WORK/doctor" --json | field request_id)
"$PY" - "$EDGE_URL" "$IOMTSHARE_NODE" <<'EOF'
import sys, time, httpx
edge, node = sys.argv[1:]  # the edge proves the decision from its own headers: let it catch up
target = httpx.get(f"{node}/status", timeout=10).json()["height"]
deadline = time.monotonic() + 60
while httpx.get(f"{edge}/health", timeout=10).json()["height"] < target:
    if time.monotonic() > deadline:
        sys.exit(f"the edge did not reach height {target}")
    time.sleep(0.2)
EOF
"$CLI" client fetch "$SENSOR_RECORD" "$SENSOR_REQUEST" --member "$WORK/doctor" --via-edge "$EDGE_URL" -o "$WORK/reading0.copy.csv"
cmp "$WORK/reading0.csv" "$WORK/reading0.copy.csv"
echo "ok: the doctor's copy, fetched through the edge, is byte-identical to the sensor's reading"

step "the testnet and its edge"
"$CLI" testnet status --dir "$DIR"
"$CLI" explore edges --testnet "$DIR"

step "crypto benchmark"
"$CLI" bench crypto --runs 50 --pyecc-runs 1 --json bench-results/crypto.json
