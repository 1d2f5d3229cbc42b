#!/usr/bin/env bash
# HAR ingest on browser-like HARs (issue 15): many small entries with many
# headers and few large bodies, as Chromium and Firefox export them. The
# HAR is made from the real browser entries in fixtures/har (cnn.com in
# Firefox, pagexray's Firefox and Chrome pages, harviewer's and
# playwright's logs), each repeated with shifted times and varied ids, to
# ~320 MB (~4 KB per entry). Then, several rounds each, interleaved:
#   replay record (release build)   CPU seconds (user+sys), peak RSS
#   jq over the same file           '[.log.entries[].request.url] | length'
# and MB per CPU-second. benches/har_ingest.sh is the large-body variant.
#
# Usage: benches/har_browser.sh [ROUNDS]   env: BENCH_DATA (/work/bench-data),
# BENCH_MB (320), REPLAY (target/release/replay), SKIP_JQ=1.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
data_dir="${BENCH_DATA:-/work/bench-data}"
big="$data_dir/browser.har"
target_mb="${BENCH_MB:-320}"
rounds="${1:-3}"
replay="${REPLAY:-$repo/target/release/replay}"
model="${TMPDIR:-/tmp}/browser.model.gz"

if [[ ! -x "$replay" ]]; then
  (cd "$repo" && cargo build --release --locked --bin replay >&2)
fi
if [[ ! -s "$big" ]]; then
  mkdir -p "$data_dir"
  echo "making $big (~${target_mb} MB) from fixtures/har ..." >&2
  python3 - "$repo/fixtures/har" "$big" "$target_mb" <<'PY'
import gzip, json, os, random, re, sys
from datetime import datetime, timedelta, timezone

fixtures, out_path, target_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(7)

def load(name):
    p = os.path.join(fixtures, name)
    raw = gzip.open(p + ".gz").read() if not os.path.exists(p) else open(p, "rb").read()
    return json.loads(raw.decode("utf-8-sig"))["log"]["entries"]

seeds = []
for name in ["haralyzer__cnn.har", "pagexray__304.har", "pagexray__www.etat.lu.har",
             "pagexray__http1.1-firefox.har", "harviewer__multiple-pages.har",
             "playwright__har-redirect.har", "mitmproxy__chrome.har"]:
    for e in load(name):
        r = e.get("response") or {}
        if not (isinstance(r.get("status"), int) and r["status"] > 0):
            continue
        if not e.get("request", {}).get("url", "").startswith("http"):
            continue
        # Browser exports keep few bodies: text ones under 16 KB stay,
        # the rest are dropped as exporters do ("size" stays).
        c = r.get("content") or {}
        if len(c.get("text") or "") > 16_000:
            c.pop("text", None)
            c.pop("encoding", None)
        seeds.append(e)

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
        req["url"] = num.sub(lambda m: "/" + str(int(rng.paretovariate(1.2) * 100)), req["url"])
        e["startedDateTime"] = (t0 + timedelta(milliseconds=i * 7 + rng.randint(0, 5))).isoformat().replace("+00:00", "Z")
        line = ("," if i else "") + json.dumps(e, separators=(",", ":")) + "\n"
        f.write(line)
        written += len(line)
        i += 1
    f.write("]}}\n")
os.rename(out_path + ".tmp", out_path)
print(f"{i} entries, {written/1e6:.0f} MB, {written/i:.0f} B per entry", file=sys.stderr)
PY
fi

bytes=$(stat -c %s "$big")
mb=$(python3 -c "print($bytes/1e6)")
cat "$big" > /dev/null   # into the page cache
echo "input: $big, $(printf %.0f "$mb") MB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-8s %-14s %10s %10s %10s\n" round tool cpu_s MB/cpu_s rss_MB
measure() { # name, command...
  local name=$1; shift
  local t; t=$(mktemp)
  /usr/bin/time -f "%U %S %M" -o "$t" "$@" > /dev/null 2>&1
  read -r u s rss < "$t"; rm -f "$t"
  python3 -c "u=$u+$s; print(f'%-8s %-14s %10.2f %10.0f %10.1f' % ('$round', '$name', u, $mb/u, $rss/1024))"
}
for round in $(seq 1 "$rounds"); do
  measure "replay record" "$replay" record "$big" -o "$model"
  if [[ -z "${SKIP_JQ:-}" ]]; then
    measure "jq" jq '[.log.entries[].request.url] | length' "$big"
  fi
done
