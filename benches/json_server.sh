#!/usr/bin/env bash
# benches/json_server.sh — a stateful replay against a real service (issue 17):
# json-server 0.17.4 (from npm) with 500 seeded posts; a recorded API client
# mix (60% GET /posts/{id} with Zipf-popular ids, 25% GET /posts?_page=N,
# 10% POST /posts, 5% DELETE /posts/{id} of the oldest post this client
# created) captured as a HAR by the client itself; then the model replayed
# at 1x for DURATION against json-server started fresh with the same data.
# Prints the recorded and replayed failure share, overall and per endpoint.
#
# Needs node + npm (json-server is installed into bench-out/json-server/)
# and python3. Not part of CI: CI need not install node.
#
# env: PORT [18090], RECORD_SECS [60], RATE [50] (recorded req/s),
#      DURATION [60s], SEED [1]
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18090}
RECORD_SECS=${RECORD_SECS:-60}
RATE=${RATE:-50}
DURATION=${DURATION:-60s}
SEED=${SEED:-1}
OUT=bench-out/json-server
mkdir -p "$OUT"
if [ ! -x "$OUT/node_modules/.bin/json-server" ]; then
  (cd "$OUT" && npm install --no-audit --no-fund --silent json-server@0.17.4 >/dev/null)
fi
cargo build --release --bin replay >/dev/null 2>&1
REPLAY=target/release/replay

python3 - "$OUT/db.json" <<'PY'
import json, sys
posts = [{"id": i, "title": f"post {i}", "body": "x" * 40, "userId": 1 + i % 10} for i in range(1, 501)]
json.dump({"posts": posts}, open(sys.argv[1], "w"))
PY

start_server() {
  cp "$OUT/db.json" "$OUT/live.json"
  "$OUT/node_modules/.bin/json-server" "$OUT/live.json" --port "$PORT" --host 127.0.0.1 --quiet \
    > "$OUT/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/posts/1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "json-server did not start: $(cat "$OUT/server.log")" >&2
  exit 1
}
stop_server() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
trap stop_server EXIT

start_server
echo "recording ${RECORD_SECS}s at ${RATE} req/s against json-server 0.17.4 on :$PORT"
python3 - "$PORT" "$RECORD_SECS" "$RATE" "$OUT/capture.har" <<'PY'
import datetime, http.client, json, random, sys, time
port, secs, rate, out = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rng = random.Random(7)
conn = http.client.HTTPConnection("127.0.0.1", port)
weights = [1 / (k ** 1.1) for k in range(1, 501)]
created, entries, failed = [], [], 0
start = time.time()
n = 0
while time.time() - start < secs:
    due = start + n / rate
    if due > time.time():
        time.sleep(due - time.time())
    n += 1
    r = rng.random()
    body = None
    if r < 0.60:
        method, path = "GET", f"/posts/{rng.choices(range(1, 501), weights)[0]}"
    elif r < 0.85:
        method, path = "GET", f"/posts?_page={rng.randint(1, 50)}"
    elif r < 0.95 or not created:
        method, path, body = "POST", "/posts", json.dumps({"title": "new", "body": "y", "userId": 3})
    else:
        method, path = "DELETE", f"/posts/{created.pop(0)}"
    t0 = time.time()
    headers = {"Content-Type": "application/json"} if body else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    t1 = time.time()
    if resp.status >= 400:
        failed += 1
    if method == "POST" and resp.status == 201:
        created.append(json.loads(data)["id"])
    req = {"method": method, "url": f"http://127.0.0.1:{port}{path}", "httpVersion": "HTTP/1.1",
           "headers": [{"name": k, "value": v} for k, v in headers.items()], "queryString": [],
           "cookies": [], "headersSize": -1, "bodySize": len(body or "")}
    if body:
        req["postData"] = {"mimeType": "application/json", "text": body}
    entries.append({
        "startedDateTime": datetime.datetime.fromtimestamp(t0, datetime.timezone.utc).isoformat().replace("+00:00", "Z"),
        "time": (t1 - t0) * 1000, "request": req,
        "response": {"status": resp.status, "statusText": resp.reason, "httpVersion": "HTTP/1.1",
                     "headers": [{"name": k, "value": v} for k, v in resp.getheaders()], "cookies": [],
                     "content": {"size": len(data), "mimeType": resp.getheader("Content-Type", ""),
                                 "text": data.decode("utf-8", "replace")},
                     "redirectURL": "", "headersSize": -1, "bodySize": len(data)},
        "cache": {}, "timings": {"send": 0, "wait": (t1 - t0) * 1000, "receive": 0}})
json.dump({"log": {"version": "1.2", "creator": {"name": "benches/json_server.sh", "version": "1"},
                   "entries": entries}}, open(out, "w"))
print(f"recorded {len(entries)} requests, {failed} failed ({100 * failed / max(1, len(entries)):.2f}%)")
PY
stop_server

"$REPLAY" record "$OUT/capture.har" -o "$OUT/posts.model.gz"
"$REPLAY" inspect "$OUT/posts.model.gz" | sed -n '/^produced values/,/^$/p'

start_server
echo "replaying ${DURATION} at 1x against a fresh json-server (seed $SEED)"
"$REPLAY" "$OUT/posts.model.gz" --target "http://127.0.0.1:$PORT" --duration "$DURATION" \
  --seed "$SEED" --quiet --summary-export "$OUT/summary.json" > "$OUT/report.txt" || true
stop_server
python3 - "$OUT/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
r = s["requests"]
print(f"replayed {r['sent']} requests, {r['failed']} failed ({100 * r['failed'] / max(1, r['sent']):.2f}%), "
      f"dropped {r['dropped']} {s['dropped']}")
for e in s["endpoints"]:
    rec = e.get("recorded_error_rate")
    print(f"  {e['method']:<6} {e['template']:<16} {e['count']:>6}  failed {100 * e['error_rate']:6.2f}%"
          f"  recorded {100 * (rec or 0):6.2f}%  status {e['status']}  dropped {e['dropped']}")
PY
