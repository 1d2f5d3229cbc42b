#!/usr/bin/env bash
# benches/pcap_ingest.sh [CAPTURE] — replay's pcap ingest vs tshark on one file.
#
# Builds the release binary, then on the same capture measures
#   replay: `replay record CAPTURE` when that subcommand exists, else
#           examples/pcap_count (same reader): CPU-seconds (user + sys),
#           MB/s per CPU-second, wall time, peak RSS, requests;
#   tshark: `tshark -r CAPTURE -Y http.request -T fields -e frame.time_epoch
#           -e http.request.method -e http.request.uri -d tcp.port==PORT,http`:
#           wall time, peak RSS, requests.
# Without CAPTURE it makes a loopback capture with ../shared/tools
# (nginx.sh + make-test-pcap.sh; needs nginx-light, tcpdump, wrk, curl).
# env: PORT [18080] (the HTTP port, for tshark's -d), SKIP_TSHARK=1 (replay
# only, e.g. on a 1 GB file), RUNS [3] (replay runs; each is listed, with
# the minimum and median CPU-seconds, user + sys, and MB/s per CPU-second).
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

# CPU time (user + sys) is the figure to compare: on a shared machine wall
# time mostly measures the neighbours. Every run is listed; the summary
# gives the minimum and the median.
cpus=(); walls=(); rss_max=0; reqs=""
for run in $(seq "$RUNS"); do
  log=$(mktemp)
  /usr/bin/time -v "${runner[@]}" > "$log.out" 2> "$log"
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")
  cpu=$(awk -F': ' '/User time/{u=$2} /System time/{s=$2} END{printf "%.2f", u+s}' "$log")
  rss=$(awk -F': ' '/Maximum resident/{print $2}' "$log")
  # `replay record` says "recorded 329,105 requests" on stderr; pcap_count
  # says "kept 329105" on stdout.
  reqs=$( (grep -ohE 'recorded [0-9,]+ requests|kept [0-9]+' "$log" "$log.out" || true) |
    head -1 | tr -dc '0-9')
  echo "  run $run: ${cpu} CPU-s ($(awk -v s="$size" -v t="$cpu" 'BEGIN{printf "%.0f", s/1e6/t}') MB/s per CPU-second)," \
    "${wall} s wall, peak RSS $((rss / 1024)) MB, requests ${reqs:-?}"
  cpus+=("$cpu"); walls+=("$wall")
  [ "$rss" -gt "$rss_max" ] && rss_max=$rss
  rm -f "$log" "$log.out"
done
stat() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{printf "%s %s", a[1], a[int((NR+1)/2)]}'; }
read -r cpu_min cpu_med <<< "$(stat "${cpus[@]}")"
read -r wall_min wall_med <<< "$(stat "${walls[@]}")"
best=$wall_min
best_reqs=$reqs
echo "replay [$how], $RUNS runs: CPU-s min ${cpu_min} / median ${cpu_med}" \
  "= $(awk -v s="$size" -v t="$cpu_min" 'BEGIN{printf "%.0f", s/1e6/t}') / $(awk -v s="$size" -v t="$cpu_med" 'BEGIN{printf "%.0f", s/1e6/t}') MB/s per CPU-second;" \
  "wall min ${wall_min} / median ${wall_med} s;" \
  "peak RSS $((rss_max / 1024)) MB; requests ${reqs:-?}"

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
