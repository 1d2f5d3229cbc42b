#!/bin/sh
# One shard of a distributed replay: what each pod of the Indexed Job runs
# (the image has it as /usr/local/bin/replay-shard), and what simulate.sh
# runs locally. Kubernetes sets JOB_COMPLETION_INDEX (0-based) in an
# Indexed Job; the shard is INDEX+1 of SHARDS.
#
# env: MODEL (model file), TARGET (base URL), SHARDS (N), SEED (the same on
#      every shard), START_AT (RFC 3339 or Unix seconds, the same on every
#      shard), DURATION [60s], RESULTS [/results] (shared directory),
#      REPLAY [replay], EXTRA (more flags, e.g. "--scale 4x")
set -eu
: "${MODEL:?}" "${TARGET:?}" "${SHARDS:?}" "${SEED:?}" "${START_AT:?}" "${JOB_COMPLETION_INDEX:?}"
k=$((JOB_COMPLETION_INDEX + 1))
out="${RESULTS:-/results}/shard-$k-of-$SHARDS.json"
# Exit 99 (a threshold crossed on this shard's part) is the merge's to
# judge on the whole run: the pod still succeeds so the merge runs.
set +e
# shellcheck disable=SC2086 # EXTRA is a list of flags
"${REPLAY:-replay}" run "$MODEL" --target "$TARGET" \
  --shard "$k/$SHARDS" --seed "$SEED" --start-at "$START_AT" \
  --duration "${DURATION:-60s}" --quiet --summary-export "$out" ${EXTRA:-}
code=$?
set -e
if [ "$code" -ne 0 ] && [ "$code" -ne 99 ]; then
  echo "shard $k/$SHARDS failed (exit $code)" >&2
  exit "$code"
fi
echo "shard $k/$SHARDS: $out (exit $code)"
