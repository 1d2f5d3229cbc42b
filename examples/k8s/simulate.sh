#!/usr/bin/env bash
# examples/k8s/simulate.sh — the Indexed Job without a cluster: N local
# processes run shard.sh with JOB_COMPLETION_INDEX set, exactly as the pods
# would, against a local target, then `replay merge` adds them up.
#
# env: REPLAY [target/release/replay, else replay on PATH], MODEL [the
#      bundled demo recording], SHARDS [3], DURATION [5s], TARGET [a
#      `replay mock` of MODEL started here on 127.0.0.1, any free port],
#      OUT [a temporary directory], SEED [7], EXTRA.
# Exit: the merge's (0 pass, 99 a threshold crossed on the whole run).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
REPLAY=${REPLAY:-$root/target/release/replay}
[ -x "$REPLAY" ] || REPLAY=$(command -v replay)
MODEL=${MODEL:-$root/examples/demo.har}
SHARDS=${SHARDS:-3}
SEED=${SEED:-7}
OUT=${OUT:-$(mktemp -d)}
export REPLAY MODEL SHARDS SEED DURATION="${DURATION:-5s}" RESULTS="$OUT" EXTRA="${EXTRA:-}"

mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true; }
trap cleanup EXIT
if [ -z "${TARGET:-}" ]; then
  # The built-in mock on a free port: its address is on its first line.
  "$REPLAY" mock "$MODEL" --listen 127.0.0.1:0 --latency none 2>"$OUT/mock.log" >/dev/null &
  mock_pid=$!
  for _ in $(seq 100); do
    TARGET=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$OUT/mock.log" | head -1 || true)
    [ -n "$TARGET" ] && break
    sleep 0.1
  done
  [ -n "$TARGET" ] || { echo "the mock did not start: $(cat "$OUT/mock.log")" >&2; exit 1; }
fi
export TARGET
# All shards start together, two seconds from now.
START_AT=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%S.%3NZ)
export START_AT
echo "simulating $SHARDS shards against $TARGET from $START_AT; results in $OUT"
pids=()
for i in $(seq 0 $((SHARDS - 1))); do
  JOB_COMPLETION_INDEX=$i "$here/shard.sh" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
set +e
"$REPLAY" merge "$OUT"/shard-*-of-"$SHARDS".json -o "$OUT/merged.json" --no-color
code=$?
echo "merged summary: $OUT/merged.json (exit $code)"
exit $code
