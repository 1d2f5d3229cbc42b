#!/usr/bin/env bash
# benches/pcap_ingest.sh [CAPTURE] — replay's pcap ingest vs tshark on one file.
#
# Builds the release binary, then on the same capture measures
#   replay: `replay record CAPTURE` when that subcommand exists, else
#           examples/pcap_count (same reader): wall time, MB/s, peak RSS, requests;
#   tshark: `tshark -r CAPTURE -Y http.request -T fields -e frame.time_epoch
#           -e http.request.method -e http.request.uri -d tcp.port==PORT,http`:
#           wall time, peak RSS, requests.
# Without CAPTURE it makes a loopback capture with ../shared/tools
# (nginx.sh + make-test-pcap.sh; needs nginx-light, tcpdump, wrk, curl).
# env: PORT [18080] (the HTTP port, for tshark's -d), SKIP_TSHARK=1 (replay
# only, e.g. on a 1 GB file), RUNS [3] (replay runs; the fastest is shown).
# Captures live outside the repository (default /work/bench-data).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18080}
RUNS=${RUNS:-3}
TOOLS=${TOOLS:-../shared/tools}
cap=${1:-}
if [ -z "$cap" ]; then
  cap=${BENCH_DATA:-/work/bench-data}/lo-bench.pcap
  if [ ! -s "$cap" ]; then
    "$TOOLS/nginx.sh" start "$PORT"
    trap '"$TOOLS/nginx.sh" stop "$PORT"' EXIT
    SECS=${SECS:-18} CONNS=${CONNS:-64} PORT=$PORT "$TOOLS/make-test-pcap.sh" "$cap"
  fi
fi
size=$(stat -c %s "$cap")
echo "capture: $cap ($(awk -v s="$size" 'BEGIN{printf "%.1f MB", s/1e6}'))"

cargo build --release --locked --bin replay --example pcap_count >/dev/null 2>&1 ||
  cargo build --release --bin replay --example pcap_count
# A real subcommand exits 0 and prints usage (the skeleton's empty main also
# exits 0, so the exit status alone is not enough).
if target/release/replay record --help 2>&1 | grep -qi 'usage'; then
  runner=(target/release/replay record "$cap" -o /dev/null)
  how="replay record"
else
  runner=(target/release/examples/pcap_count "$cap")
  how="examples/pcap_count (no 'replay record' yet)"
fi

best=""
for _ in $(seq "$RUNS"); do
  log=$(mktemp)
  /usr/bin/time -v "${runner[@]}" > "$log.out" 2> "$log"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")
  cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{print u+s}' "$log")
  rss=$(awk -F': ' '/Maximum resident/{print $2}' "$log")
  reqs=$(grep -oE 'kept [0-9]+' "$log.out" | awk '{print $2}' || true)
  if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN{exit !(a<b)}'; then
    best=$wall; best_cpu=$cpu; best_rss=$rss; best_reqs=$reqs; best_out=$(cat "$log.out")
  fi
  rm -f "$log" "$log.out"
done
echo "replay [$how]: best of $RUNS: ${best} s wall, ${best_cpu} s CPU," \
  "$(awk -v s="$size" -v t="$best" 'BEGIN{printf "%.0f", s/1e6/t}') MB/s wall," \
  "$(awk -v s="$size" -v t="$best_cpu" 'BEGIN{printf "%.0f", s/1e6/t}') MB/s per CPU-second," \
  "peak RSS $((best_rss / 1024)) MB, requests ${best_reqs}"
echo "  $best_out" | head -3

if [ "${SKIP_TSHARK:-0}" != 1 ]; then
  log=$(mktemp)
  /usr/bin/time -v tshark -r "$cap" -Y http.request -T fields -e frame.time_epoch \
    -e http.request.method -e http.request.uri -d "tcp.port==$PORT,http" 2> "$log" > "$log.out"
  twall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")
  trss=$(awk -F': ' '/Maximum resident/{print $2}' "$log")
  # One line per frame; a frame may hold several (pipelined) requests.
  treqs=$(awk -F'\t' '{n += split($2, m, ",")} END{print n+0}' "$log.out")
  rm -f "$log" "$log.out"
  echo "tshark: ${twall} s wall, $(awk -v s="$size" -v t="$twall" 'BEGIN{printf "%.1f", s/1e6/t}') MB/s," \
    "peak RSS $((trss / 1024)) MB, requests $treqs"
  echo "speed-up: $(awk -v a="$twall" -v b="$best" 'BEGIN{printf "%.0f", a/b}')x;" \
    "same request count: $([ "$treqs" = "$best_reqs" ] && echo yes || echo "NO ($treqs vs $best_reqs)")"
fi
