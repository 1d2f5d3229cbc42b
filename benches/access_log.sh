#!/usr/bin/env bash
# Access-log ingest benchmark (issue 13): a large generated Combined log,
# read on one core by
#   - the access-log reader alone (examples/access_log_read: ingest only),
#   - `replay record` (reader + model builder: what a user runs),
#   - awk splitting the same file into fields (counting requests and
#     bytes per status: the cheapest useful pass over a log), and gawk
#     with the same program where it is installed,
# several rounds each; MB/s per CPU-second and peak RSS.
#
# Targets: reader >= 200 MB/s per core and >= 3x awk; peak RSS <= 64 MB
# on a 1 GB log.
#
# Usage: benches/access_log.sh [BIG_LOG]   (default /work/bench-data/access-1g.log,
# or $BENCH_DATA/access-1g.log). Env: BENCH_MB (1000), IPS (distinct client
# addresses in a generated log, 5000; 0 = a random address on every line, the
# worst case for the builder's per-client state), ROUNDS (3), KEEP=1 to
# keep the generated log (it is deleted at the end otherwise), REPLAY (the
# binary measured as `record`; default target/release/replay).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
data_dir="${BENCH_DATA:-/work/bench-data}"
big="${1:-$data_dir/access-1g.log}"
target_mb="${BENCH_MB:-1000}"
rounds="${ROUNDS:-3}"
model="${TMPDIR:-/tmp}/access-bench.model.gz"
made=0

if [[ ! -s "$big" ]]; then
  mkdir -p "$(dirname "$big")"
  echo "making $big (~${target_mb} MB) ..." >&2
  python3 - "$big" "$target_mb" "${IPS:-5000}" <<'PY'
import random, sys, time
out, target, n_ips = sys.argv[1], int(sys.argv[2]) * 1_000_000, int(sys.argv[3])
rng = random.Random(13)
agents = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0", "Go-http-client/1.1", "python-requests/2.31.0",
]
refs = ["-", "https://shop.example/", "https://shop.example/cart", "https://www.google.com/"]
paths = ["/api/users/{}", "/api/items?page={}", "/static/app.{}.js", "/api/orders/{}/items", "/", "/search?q=item{}"]
statuses = [200] * 90 + [304] * 4 + [404] * 4 + [500, 502]
ips = [f"10.{rng.randint(0,255)}.{rng.randint(0,255)}.{rng.randint(1,254)}" for _ in range(n_ips)]
def client():
    if ips:
        return rng.choice(ips)
    return f"{rng.randint(1,223)}.{rng.randint(0,255)}.{rng.randint(0,255)}.{rng.randint(1,254)}"
t0 = 1_765_000_000
written, i = 0, 0
with open(out + ".tmp", "w") as f:
    buf = []
    while written < target:
        ts = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t0 + i // 60))
        for _ in range(60):
            p = rng.choice(paths).format(rng.randint(1, 100000))
            m = "POST" if p.startswith("/api/orders") else "GET"
            line = f'{client()} - - [{ts}] "{m} {p} HTTP/1.1" {rng.choice(statuses)} {rng.randint(0, 50000)} "{rng.choice(refs)}" "{rng.choice(agents)}"\n'
            buf.append(line)
            written += len(line)
            i += 1
        if len(buf) > 20000:
            f.write("".join(buf)); buf.clear()
    f.write("".join(buf))
import os; os.replace(out + ".tmp", out)
print(f"{i} lines", file=sys.stderr)
PY
  made=1
fi
cleanup() { if [[ $made == 1 && "${KEEP:-0}" != 1 ]]; then rm -f "$big"; fi; rm -f "$model"; }
trap cleanup EXIT

cd "$repo"
cargo build --release --locked --bin replay --example access_log_read >&2
bin="${REPLAY:-$repo/target/release/replay}"
reader="$repo/target/release/examples/access_log_read"
bytes=$(stat -c %s "$big")
cat "$big" > /dev/null  # warm the page cache: every tool reads from memory

# run NAME CMD...: one timed run on core 0; prints "NAME cpu_s wall_s rss_kb".
run() {
  local name=$1; shift
  local log; log="$(mktemp)"
  /usr/bin/time -v taskset -c 0 "$@" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
  local cpu wall rss
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$log")
  wall=$(grep "Elapsed (wall clock)" "$log" | awk -F': ' '{print $2}' \
    | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(grep "Maximum resident set size" "$log" | awk -F': ' '{print $2}')
  rm -f "$log"
  echo "$name $cpu $wall $rss"
}

# The cheapest useful pass over a log: requests and bytes per status.
prog='{ n++; b[$9] += $10 } END { for (s in b) print s, b[s]; print n }'
# mawk (the fastest awk) where installed, else this machine's awk; gawk
# beside it where installed.
awk_bin="$(command -v mawk || command -v awk)"
gawk="$(command -v gawk || true)"
echo "awk is $(readlink -f "$awk_bin"); load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
results="$(mktemp)"
for r in $(seq 1 "$rounds"); do
  run reader "$reader" "$big" >> "$results"
  run record "$bin" record "$big" -o "$model" >> "$results"
  run awk "$awk_bin" "$prog" "$big" >> "$results"
  if [[ -n "$gawk" ]]; then run gawk "$gawk" "$prog" "$big" >> "$results"; fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2

awk -v b="$bytes" -v big="$big" '
  { mbs = b / 1e6 / $2; n[$1]++; v[$1, n[$1]] = mbs; rss[$1] = (rss[$1] > $4 ? rss[$1] : $4);
    if (!($1 in lo) || mbs < lo[$1]) lo[$1] = mbs; if (mbs > hi[$1]) hi[$1] = mbs;
    printf "round %-2d %-7s %7.1f MB/s per cpu-second (cpu %.2f s, wall %.2f s), peak RSS %.1f MB\n", n[$1], $1, mbs, $2, $3, $4 / 1024 }
  END {
    printf "\ninput %.1f MB (%s)\n", b / 1e6, big;
    for (k in n) { # median of the rounds
      m = n[k]; for (i = 1; i <= m; i++) a[i] = v[k, i];
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      med[k] = (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2;
      printf "%-7s median %7.1f MB/s (spread %.1f-%.1f), peak RSS %.1f MB\n", k, med[k], lo[k], hi[k], rss[k] / 1024;
    }
    printf "reader / awk %.2fx (target >= 3x; reader target >= 200 MB/s, RSS <= 64 MB)\n", med["reader"] / med["awk"];
    printf "record / awk %.2fx\n", med["record"] / med["awk"];
  }' "$results"
rm -f "$results"
