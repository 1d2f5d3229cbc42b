#!/usr/bin/env bash
# HAR ingest benchmark: a >= 300 MB HAR made from the real fixtures'
# entries (time-shifted, ids varied, realistic base64 response bodies of
# 20-200 KB), recorded by the release binary under /usr/bin/time -v.
#
# Targets (issue 2): >= 150 MB/s on one core, peak RSS <= 150 MB, model
# <= 2 MB (that was before the mock kept recorded bodies, issue 18: with
# them the model is ~6 MB; `record --bodies none` gives the old size).
#
# Usage: benches/har_ingest.sh [BIG_HAR]   (default /work/bench-data/big.har,
# or $BENCH_DATA/big.har). The input is made once and reused.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
data_dir="${BENCH_DATA:-/work/bench-data}"
big="${1:-$data_dir/big.har}"
target_mb="${BENCH_MB:-320}"
model="${TMPDIR:-/tmp}/big.model.gz"

if [[ ! -s "$big" ]]; then
  mkdir -p "$(dirname "$big")"
  echo "making $big (~${target_mb} MB) from fixtures/har ..." >&2
  python3 - "$repo/fixtures/har" "$big" "$target_mb" <<'PY'
import base64, gzip, json, os, random, re, sys
from datetime import datetime, timedelta, timezone

fixtures, out_path, target_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(42)

def load(name):
    p = os.path.join(fixtures, name)
    raw = gzip.open(p + ".gz").read() if not os.path.exists(p) else open(p, "rb").read()
    return json.loads(raw.decode("utf-8-sig"))["log"]["entries"]

seeds = []
for name in ["pagexray__304.har", "pagexray__www.etat.lu.har", "mitmproxy__firefox.har",
             "harviewer__multiple-pages.har", "mitmproxy__safari.har", "haralyzer__cnn.har"]:
    for e in load(name):
        r = e.get("response") or {}
        if isinstance(r.get("status"), int) and r["status"] > 0 and e.get("request", {}).get("url", "").startswith("http"):
            seeds.append(e)

# A pool of incompressible bodies (random bytes, like images/compressed
# payloads) of 20-200 KB, base64-encoded as HAR exporters store them.
blobs = [base64.b64encode(os.urandom(rng.randint(20_000, 200_000))).decode() for _ in range(48)]

num = re.compile(r"/(\d+)(?=/|$|\?)")
t0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
target = target_mb * 1_000_000
written = 0
i = 0
with open(out_path + ".tmp", "w") as f:
    f.write('{"log":{"version":"1.2","creator":{"name":"replay-bench","version":"1"},"entries":[\n')
    while written < target:
        e = json.loads(json.dumps(seeds[i % len(seeds)]))
        req = e["request"]
        # Vary numeric path ids (Zipf-ish) and add an item id so templates
        # and pools are exercised.
        req["url"] = num.sub(lambda m: "/" + str(int(rng.paretovariate(1.2) * 100)), req["url"])
        if i % 3 == 0:
            sep = "&" if "?" in req["url"] else "?"
            req["url"] += f"{sep}item={rng.randint(1, 1_000_000)}"
        e["startedDateTime"] = (t0 + timedelta(milliseconds=i * 37 + rng.randint(0, 30))).isoformat().replace("+00:00", "Z")
        c = e["response"].setdefault("content", {})
        if i % 4 != 3:
            b = blobs[rng.randrange(len(blobs))]
            c.update({"size": len(b) * 3 // 4, "mimeType": "image/jpeg", "encoding": "base64", "text": b})
        s = json.dumps(e, separators=(",", ":"))
        f.write(("," if i else "") + s + "\n")
        written += len(s) + 2
        i += 1
    f.write("]}}\n")
os.replace(out_path + ".tmp", out_path)
print(f"{i} entries", file=sys.stderr)
PY
fi

cd "$repo"
cargo build --release --locked >&2
bin="$repo/target/release/replay"
rm -f "$model"
log="$(mktemp)"
# One core, as the target says.
/usr/bin/time -v taskset -c 0 "$bin" record "$big" -o "$model" 2>"$log" || { cat "$log" >&2; exit 1; }

bytes=$(stat -c %s "$big")
wall=$(grep "Elapsed (wall clock)" "$log" | awk -F': ' '{print $2}' \
  | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
rss_kb=$(grep "Maximum resident set size" "$log" | awk -F': ' '{print $2}')
cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$log")
reqs=$(grep -o "recorded [0-9,]* requests" "$log" | tr -dc '0-9')
model_bytes=$(stat -c %s "$model")
rm -f "$log"

awk -v b="$bytes" -v w="$wall" -v c="$cpu" -v r="$rss_kb" -v m="$model_bytes" -v n="$reqs" 'BEGIN {
  mb = b / 1e6;
  printf "input          %.1f MB (%s)\n", mb, ARGV[1];
  printf "requests       %d\n", n;
  printf "wall           %.2f s\n", w;
  printf "cpu            %.2f s (user + sys)\n", c;
  printf "throughput     %.1f MB/s   (target >= 150; wall clock, one core)\n", mb / w;
  printf "per cpu-second %.1f MB/s   (what the code does when the core is not shared)\n", mb / c;
  printf "peak RSS       %.1f MB     (target <= 150)\n", r / 1024;
  printf "model          %.1f KB     (target <= 2048)\n", m / 1024;
}' "$big"
