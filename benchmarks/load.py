"""Load generator, run as its own process: keep-alive HTTP/1.1 connections from threads, for a
fixed time, against one URL on loopback. Prints one JSON line of results."""

import argparse
import http.client
import json
import re
import threading
import time
import urllib.parse


def worker(args: argparse.Namespace, deadline: float, out: list, lock: threading.Lock) -> None:
    parts = urllib.parse.urlsplit(args.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers: dict[str, str] = {}
    body = None
    if args.post:
        # A real form post: fetch the page for its CSRF cookie and token first.
        conn.request("GET", args.form_page)
        page = conn.getresponse()
        html = page.read().decode()
        cookie = page.getheader("Set-Cookie", "").split(";")[0]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        fields = {
            "csrfmiddlewaretoken": token,
            "user_name": "Bench",
            "rating": "4",
            "review_text": "Fast.",
        }
        body = urllib.parse.urlencode(fields)
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    latencies, queries, errors = [], [], 0
    while time.monotonic() < deadline:
        start = time.perf_counter()
        try:
            conn.request("POST" if args.post else "GET", path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            continue
        latencies.append(time.perf_counter() - start)
        if response.status not in (200, 302):
            errors += 1
        if response.getheader("X-Query-Count"):
            queries.append(int(response.getheader("X-Query-Count")))
    with lock:
        out.append((latencies, queries, errors))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--post", action="store_true", help="POST the review form")
    parser.add_argument("--form-page", default="/", help="page holding the form (with --post)")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    results: list = []
    lock = threading.Lock()
    threads = [
        threading.Thread(target=worker, args=(args, deadline, results, lock))
        for _ in range(args.connections)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies = sorted(lat for result in results for lat in result[0])
    queries = sorted({q for result in results for q in result[1]})
    errors = sum(result[2] for result in results)

    def percentile(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0
        )

    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": errors,
                "rps": len(latencies) / elapsed,
                "p50_ms": percentile(0.50),
                "p99_ms": percentile(0.99),
                "queries": queries,
            }
        )
    )


if __name__ == "__main__":
    main()
