#!/usr/bin/env python3
"""Writes examples/demo.har: 60 s of recorded traffic to the demo API
(examples/demo_api.rs on 127.0.0.1:8081). Deterministic (seeded), so
running it again gives the same file. Run from the repository root:

    python3 examples/make_demo_har.py
"""
import json, random, datetime
rnd = random.Random(8081)
BASE = "http://127.0.0.1:8081"
t = datetime.datetime(2025, 3, 14, 9, 30, 0, 0, tzinfo=datetime.timezone.utc)
words = ["rust", "tokio", "hyper", "load", "latency", "replay", "http", "percentile", "ci", "mock"]
entries = []
def post(i):
    return {"id": i, "title": f"Post number {i}", "body": "Lorem ipsum dolor sit amet. " * (i % 5 + 1), "author": i % 97 + 1}
next_id = 10001
end = t + datetime.timedelta(seconds=60)
while t < end:
    # Bursty arrivals: a page view fires 1-4 requests close together.
    r = rnd.random()
    status, req_body, mime = 200, None, "application/json"
    if r < 0.45:
        pid = rnd.choice([rnd.randint(1, 10000), rnd.randint(1, 50), rnd.randint(1, 50)])
        method, path = "GET", f"/posts/{pid}"
        body = post(pid)
    elif r < 0.65:
        method, path = "GET", "/users/me"
        body = {"id": 1, "name": "Demo User", "email": "demo@example.com", "posts": 42}
    elif r < 0.80:
        q = rnd.choice(words)
        method, path = "GET", f"/search?q={q}"
        n = len(q) % 7 + 1
        body = {"q": q, "results": [post(i * 37 % 10000 + 1) for i in range(1, n + 1)]}
    elif r < 0.90:
        page = rnd.choice([1, 1, 1, 2, 2, 3, 4])
        method, path = "GET", f"/posts?page={page}"
        body = {"page": page, "posts": [post((page - 1) * 10 + i) for i in range(1, 11)]}
    elif r < 0.97:
        method, path = "POST", "/posts"
        title = f"{rnd.choice(words).title()} notes #{rnd.randint(1, 999)}"
        req_body = {"title": title, "body": "Written during the demo recording."}
        body = dict(req_body, id=next_id, author="me")
        next_id += 1
        status = 201
    else:
        method, path, body, mime = "GET", "/health", None, "text/plain"
    text = "ok\n" if body is None else json.dumps(body, separators=(",", ":"))
    wait = round(max(2.0, rnd.lognormvariate(3.0, 0.35)), 3)  # ~20 ms median
    if method == "POST":
        wait = round(wait * 1.6, 3)
    receive = round(rnd.uniform(0.05, 0.6), 3)
    send = round(rnd.uniform(0.01, 0.08), 3)
    query = []
    if "?" in path:
        k, v = path.split("?", 1)[1].split("=")
        query = [{"name": k, "value": v}]
    headers = [
        {"name": "Host", "value": "127.0.0.1:8081"},
        {"name": "User-Agent", "value": "demo-client/1.0"},
        {"name": "Accept", "value": "application/json"},
    ]
    request = {
        "method": method, "url": BASE + path, "httpVersion": "HTTP/1.1",
        "cookies": [], "headers": headers, "queryString": query,
        "headersSize": -1, "bodySize": 0,
    }
    if req_body is not None:
        raw = json.dumps(req_body, separators=(",", ":"))
        headers.append({"name": "Content-Type", "value": "application/json"})
        request["postData"] = {"mimeType": "application/json", "text": raw}
        request["bodySize"] = len(raw)
    entries.append({
        "startedDateTime": t.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "time": round(send + wait + receive, 3),
        "request": request,
        "response": {
            "status": status, "statusText": {200: "OK", 201: "Created"}[status],
            "httpVersion": "HTTP/1.1", "cookies": [],
            "headers": [{"name": "Content-Type", "value": mime}, {"name": "Content-Length", "value": str(len(text))}],
            # Like many exporters, list responses keep only their size.
            "content": {"size": len(text), "mimeType": mime, **({} if path.startswith(("/search", "/posts?")) else {"text": text})},
            "redirectURL": "", "headersSize": -1, "bodySize": len(text),
        },
        "cache": {},
        "timings": {"blocked": -1, "dns": -1, "connect": -1, "ssl": -1, "send": send, "wait": wait, "receive": receive},
    })
    # Next request: mostly short gaps inside a page view, sometimes a pause.
    gap = rnd.expovariate(1 / 0.03) if rnd.random() < 0.6 else rnd.expovariate(1 / 0.45)
    t += datetime.timedelta(seconds=gap)
har = {"log": {"version": "1.2", "creator": {"name": "replay examples (hand-made)", "version": "1"},
               "pages": [], "entries": entries}}
with open("examples/demo.har", "w") as f:
    # One entry per line: small, and still diffable.
    head = json.dumps(har, separators=(",", ":")).split('"entries":')[0]
    f.write(head + '"entries":[\n')
    f.write(",\n".join(json.dumps(e, separators=(",", ":")) for e in entries))
    f.write("\n]}}\n")
print(len(entries), "entries")
