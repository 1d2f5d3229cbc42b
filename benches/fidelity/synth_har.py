#!/usr/bin/env python3
"""Writes a synthetic HAR to stdout: `browser` (page loads: a document, then
dozens of assets and API calls within a few hundred ms, then a think time)
or `api` (Poisson arrivals whose rate drifts slowly, an endpoint mix).

    synth_har.py browser|api SEED [USERS] [MINUTES]
"""
import json, math, random, sys
from datetime import datetime, timezone, timedelta

kind, seed = sys.argv[1], int(sys.argv[2])
users = int(sys.argv[3]) if len(sys.argv) > 3 else 2
minutes = float(sys.argv[4]) if len(sys.argv) > 4 else 10
rng = random.Random(seed)
t0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
end = minutes * 60
reqs = []  # (t, user, path)

if kind == "browser":
    pages = ["/", "/products", "/products/{id}", "/cart", "/search"]
    for u in range(users):
        t = rng.uniform(0, 5)
        while t < end:
            page = rng.choice(pages).replace("{id}", str(rng.randint(1, 400)))
            reqs.append((t, u, page))
            # Parse delay, then the assets in a burst (Chromium: 6 per host).
            t += rng.uniform(0.02, 0.12)
            for k in range(rng.randint(15, 60)):
                t += rng.expovariate(1 / 0.004)
                ext = rng.choice(["js", "css", "png", "woff2", "svg"])
                reqs.append((t, u, f"/static/{rng.randint(1, 80)}.{ext}"))
                if rng.random() < 0.1:
                    reqs.append((t + rng.expovariate(1 / 0.002), u, f"/api/items/{rng.randint(1, 400)}"))
            # Think time: lognormal, median 8 s.
            t += rng.lognormvariate(math.log(8), 0.9)
else:
    eps = [("/api/users/{id}", 5), ("/api/orders", 3), ("/api/items/{id}", 8), ("/api/search?q={q}", 2), ("/health", 1)]
    total = sum(w for _, w in eps)
    t = 0.0
    while t < end:
        rate = 20 * (1 + 0.5 * math.sin(2 * math.pi * t / 300))
        t += rng.expovariate(rate)
        x, path = rng.uniform(0, total), None
        for p, w in eps:
            if x < w:
                path = p
                break
            x -= w
        path = path or eps[-1][0]
        reqs.append((t, rng.randint(0, 50), path.replace("{id}", str(rng.randint(1, 5000))).replace("{q}", rng.choice(["a", "shoe", "red", "hat"]))))

reqs.sort()
entries = []
for t, u, path in reqs:
    entries.append({
        "startedDateTime": (t0 + timedelta(seconds=t)).isoformat().replace("+00:00", "Z"),
        "time": 5,
        "request": {"method": "GET", "url": f"http://shop.test{path}", "httpVersion": "HTTP/1.1",
                    "headers": [{"name": "User-Agent", "value": f"Mozilla/5.0 user{u}"}],
                    "queryString": [], "cookies": [], "headersSize": -1, "bodySize": 0},
        "response": {"status": 200, "statusText": "OK", "httpVersion": "HTTP/1.1", "headers": [],
                     "cookies": [], "content": {"size": 100, "mimeType": "text/plain"},
                     "redirectURL": "", "headersSize": -1, "bodySize": 100},
        "cache": {}, "timings": {"send": 0, "wait": 5, "receive": 0},
    })
json.dump({"log": {"version": "1.2", "creator": {"name": "synth_har.py", "version": "1"}, "entries": entries}}, sys.stdout)
