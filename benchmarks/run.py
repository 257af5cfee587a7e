"""Benchmark Restaurant Review as it runs in production, against the numbers that matter.

Runs the app with start.sh and gunicorn.conf.py (production config, workers from the CPU
count) on PostgreSQL through the Entra-token backend and, unless --no-redis, with the shared
page cache in Redis over TLS logging in with Entra tokens (localazure/redis_server.py), the test
managed-identity endpoint handing out the tokens. It seeds a realistic data set, drives load
with wrk (a native load generator: Debian's package; a Python one sharing the cores limited
the figures itself), and prints for the home page, a restaurant page with many reviews (and
the same page with its version read once per worker rather than on each request: what the
never-stale check costs) and a review post: requests/s, p50/p99 latency, SQL queries per
request, identity-endpoint calls and memory per worker, each page's throughput as a share of
a bare Django view's (the ceiling), and the query counts at two data sizes.

    python3 -m benchmarks.run                       # 1,000 restaurants, 50,000 reviews
    python3 -m benchmarks.run --seconds 5 --restaurants 200 --reviews 10000
    python3 -m benchmarks.run --restaurants 100 --reviews 2000 --busiest 20 --workers 2 \
        --upstream ../msdocs-django-postgresql-sample-app   # and the upstream sample's pages

Needs the PostgreSQL server binaries and redis-server (./run-tests.sh installs them) and wrk
(apt-get install wrk). Not part of the test suite.
"""

import argparse
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from benchmarks.instances import load_instances, print_instances
from benchmarks.upstream import upstream_server
from localazure.load import find_wrk, report, wrk_command
from localazure.postgres import PostgresServer, find_bindir, make_postgres_app
from localazure.redis_server import REDIS_RESOURCE, RedisServer, find_redis_server
from localazure.services import (
    AppServer,
    base_env,
    http_request,
    manage,
    shell_output,
    worker_memory_mb,
)


def seed(
    env: dict[str, str], *, restaurants: int, reviews: int, busiest: int, seed: int, reset: bool
) -> int:
    """Seed the demo data (from scratch with `reset`); return the busiest restaurant's id
    (seed_demo gives its extra --busiest reviews to the first restaurant it creates)."""
    result = manage(
        "seed_demo",
        f"--restaurants={restaurants}",
        f"--reviews={reviews}",
        f"--busiest={busiest}",
        f"--seed={seed}",
        *(["--reset"] if reset else []),
        env=env,
        timeout=900,
    )
    if result.returncode != 0 or "Created" not in result.stdout:
        sys.exit(f"seed_demo failed:\n{result.stdout}{result.stderr}")
    return int(
        shell_output(
            "from django.db.models import Count; from restaurant_review.models import Restaurant; "
            "print(Restaurant.objects.annotate(n=Count('reviews')).order_by('-n')[0].pk)",
            env=env,
        )
    )


def queries_of(url: str) -> int:
    status, headers, _ = http_request(url)
    assert status == 200, f"{url} answered {status}"
    return int(headers["x-query-count"])


def page_queries(base: str, busiest: int) -> dict[str, tuple[int, int]]:
    """SQL queries of the home page and of the busiest restaurant's page: (first request after
    the data changed, then from the cache). Without Redis each worker has a cache of its own,
    drawn on its first request: the fewest of a few more requests is the cached page's."""
    urls = {"home": base + "/", "restaurant": f"{base}/restaurant/{busiest}/"}
    return {
        name: (queries_of(url), min(queries_of(url) for _ in range(6)))
        for name, url in urls.items()
    }


def overran(taken: float, asked: float) -> bool:
    """Whether wrk, asked to run `asked` seconds, took so much longer that the machine must
    have been paused: a virtual machine can be, outright (22 s once, for a snapshot: the
    kernel logged "crng reseeded due to virtual machine fork", the server's log silent
    throughout). Its requests in flight then time out, and its figures mean nothing."""
    return taken > 1.5 * asked + 1


def load(
    url: str,
    *,
    seconds: float,
    connections: int,
    post: bool = False,
    form_page: str = "/",
    count_queries: bool = True,
) -> dict:
    """Load `url` with wrk, a native load generator (Debian's package), so the generator is
    not what limits the figures; a review post is a real form post, CSRF cookie and token
    fetched first. SQL queries per request are read from the X-Query-Count header of a few
    requests made beforehand."""
    if find_wrk() is None:
        sys.exit("wrk not found: apt-get install wrk")
    parts = urllib.parse.urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    env = {**os.environ, "WRK_METHOD": ""}
    queries: list[int] = []
    if post:
        status, headers, html = http_request(base + form_page)
        cookie = headers.get("set-cookie", "").split(";")[0]
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert status == 200 and found, f"no form at {form_page}"
        body = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": found.group(1).decode(),
                "user_name": "Bench",
                "rating": "4",
                "review_text": "Fast.",
            }
        )
        content_type = "application/x-www-form-urlencoded"
        env |= {
            "WRK_METHOD": "POST",
            "WRK_BODY": body,
            "WRK_COOKIE": cookie,
            "WRK_CONTENT_TYPE": content_type,
        }
        for _ in range(3):
            _, answer, _ = http_request(
                url,
                method="POST",
                body=body.encode(),
                headers={"Cookie": cookie, "Content-Type": content_type},
            )
            queries.append(int(answer.get("x-query-count", 0)))
    elif count_queries:  # the upstream sample has no X-Query-Count
        queries = [queries_of(url) for _ in range(3)]
    command = wrk_command(url, seconds=seconds, connections=connections)
    result = report(
        subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    )
    result["paused"] = [result["seconds"]] if overran(result["seconds"], seconds) else []
    result["queries"] = sorted(set(queries))
    return result


def in_rounds(
    urls: dict[str, str],
    *,
    rounds: int,
    seconds: float,
    connections: int,
    uncounted: frozenset[str] = frozenset(),
) -> dict[str, dict]:
    """Load each of `urls` in turn, `rounds` times over. A shared machine's speed drifts over
    minutes (the same bare view gave 735 to 1,250 req/s in one hour), so each page's share of
    the first URL's throughput (the ceiling) is taken within a round; the medians are reported."""
    runs: dict[str, list[dict]] = {name: [] for name in urls}
    for _ in range(rounds):
        for name, url in urls.items():
            runs[name].append(
                load(
                    url,
                    seconds=seconds,
                    connections=connections,
                    count_queries=name not in uncounted,
                )
            )
    ceiling = runs[next(iter(urls))]
    summary = {}
    for name, results in runs.items():
        shares = [100 * run["rps"] / top["rps"] for run, top in zip(results, ceiling, strict=True)]
        summary[name] = {
            "rps": statistics.median(run["rps"] for run in results),
            "p50_ms": statistics.median(run["p50_ms"] for run in results),
            "p99_ms": statistics.median(run["p99_ms"] for run in results),
            "errors": sum(run["errors"] for run in results),
            "paused": [taken for run in results for taken in run["paused"]],
            "queries": sorted({q for run in results for q in run["queries"]}),
            "share": statistics.median(shares),
            "shares": shares,
            "rounds": [run["rps"] for run in results],
        }
    return summary


UNCHECKED = "restaurant page, version read once"


def times_upstream(ours: dict, theirs: dict) -> float:
    """How many times the upstream page's throughput, the median over rounds."""
    return statistics.median(
        mine / upstream for mine, upstream in zip(ours["rounds"], theirs["rounds"], strict=True)
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--restaurants", type=int, default=1000)
    parser.add_argument("--reviews", type=int, default=50_000)
    parser.add_argument(
        "--busiest", type=int, default=2000, help="reviews on the busiest restaurant"
    )
    parser.add_argument(
        "--seconds", type=float, default=5, help="load time per page, in each round"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of bare view, home and restaurant page"
    )
    parser.add_argument(
        "--connections", type=int, default=8, help="concurrent keep-alive connections"
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="gunicorn workers (default: as in production)"
    )
    parser.add_argument("--token-lifetime", type=float, default=3600)
    parser.add_argument(
        "--no-redis", action="store_true", help="local-memory caches instead of shared Redis"
    )
    parser.add_argument(
        "--instances",
        default="",
        help="comma-separated instance counts (e.g. 1,2,4): the same load on that many "
        "instances of the app at once, on one server",
    )
    parser.add_argument(
        "--instance-budget",
        type=int,
        default=35,
        help="server connections shared by the instances (default 35: a B1ms's for the app)",
    )
    parser.add_argument(
        "--upstream",
        type=Path,
        help="a checkout of Azure-Samples/msdocs-django-postgresql-sample-app: load its home "
        "and restaurant pages too, with the same data, workers and load",
    )
    return parser.parse_args()


@dataclass
class Measured:
    """What one benchmark run measured, for the report."""

    workers: int
    threads: str
    small: tuple[int, int]
    small_counts: dict[str, tuple[int, int]]
    large_counts: dict[str, tuple[int, int]]
    pages: dict[str, dict]
    upstream: dict[str, dict]
    calls_during: int
    redis_calls: int
    memory: list[float]
    instance_rows: list
    redis_memory: float


def serve_upstream(
    upstreams: ExitStack,
    args: argparse.Namespace,
    postgres: PostgresServer,
    *,
    workers: int,
    env: dict[str, str],
    log_dir: Path,
) -> dict[str, str]:
    """Microsoft's sample with the same data and workers, its pages drawn on each request and
    from its minute-long cache (stopped with `upstreams`); the URLs to load."""
    print("Serving the upstream sample ...", flush=True)
    drawn, cached = (
        upstreams.enter_context(
            upstream_server(
                args.upstream.resolve(),
                postgres,
                restaurants=args.restaurants,
                reviews=max(1, args.reviews // args.restaurants),
                workers=workers,
                threads=int(env.get("GUNICORN_THREADS", "4")),
                log_dir=log_dir,
                page_cache=page_cache,
            )
        )
        for page_cache in (False, True)
    )
    return {
        "upstream home page": drawn + "/",
        "upstream restaurant page": drawn + "/1/",
        "upstream restaurant page, 60 s cache": cached + "/1/",
    }


def measure(args: argparse.Namespace) -> Measured:
    """Serve the app (and the upstream sample), seed, load every page; stop everything."""
    bindir = find_bindir()
    if bindir is None:
        sys.exit(
            "PostgreSQL server binaries not found: run ./run-tests.sh once "
            "(or apt-get install postgresql)"
        )
    postgres = PostgresServer(bindir).start()
    app = make_postgres_app(postgres, lifetime=args.token_lifetime)
    redis_server = None
    if not args.no_redis:
        executable = find_redis_server()
        if executable is None:
            sys.exit("redis-server not found: apt-get install redis-server, or use --no-redis")
        redis_server = RedisServer(executable).start()
        redis_server.hook(app.endpoint)
    # gunicorn.conf.py's default in Azure mode, unless told otherwise.
    workers = args.workers or multiprocessing.cpu_count() * 2 + 1
    media = tempfile.mkdtemp(prefix="rr-bench-media-")
    env = base_env(
        POST_LIMITS="off",
        **app.env,
        **(redis_server.env if redis_server else {}),
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        MEDIA_ROOT=media,
        WEB_CONCURRENCY=str(workers),
    )
    server = None
    try:
        small = (max(1, args.restaurants // 10), args.reviews // 10)
        print(f"Seeding {small[0]} restaurants, {small[1]} reviews ...", flush=True)
        migrated = manage("migrate", "--noinput", env=env)
        if migrated.returncode != 0:
            sys.exit(f"migrate failed:\n{migrated.stdout}{migrated.stderr}")
        busiest = seed(
            env,
            restaurants=small[0],
            reviews=small[1],
            busiest=args.busiest // 10,
            seed=1,
            reset=False,
        )
        server = AppServer(env, Path(media) / "server.log", start_sh=True).start()
        base = server.url
        small_counts = page_queries(base, busiest)

        print(
            f"Seeding anew {args.restaurants} restaurants, "
            f"{args.reviews + args.busiest} reviews ...",
            flush=True,
        )
        busiest = seed(
            env,
            restaurants=args.restaurants,
            reviews=args.reviews,
            busiest=args.busiest,
            seed=2,
            reset=True,
        )
        large_counts = page_queries(base, busiest)

        calls_before = app.token_calls()
        redis_calls_before = len(app.endpoint.calls_for(REDIS_RESOURCE))
        urls = {
            "bare view (ceiling)": base + "/__bare__/",
            "home page": base + "/",
            "restaurant page": f"{base}/restaurant/{busiest}/",
            # The same page with its version read once per worker: what never-stale costs.
            UNCHECKED: f"{base}/__unchecked__/restaurant/{busiest}/",
        }
        with ExitStack() as upstreams:
            if args.upstream:
                urls |= serve_upstream(
                    upstreams, args, postgres, workers=workers, env=env, log_dir=Path(media)
                )
            pages = in_rounds(
                urls,
                rounds=args.rounds,
                seconds=args.seconds,
                connections=args.connections,
                uncounted=frozenset(name for name in urls if name.startswith("upstream")),
            )
        upstream = {
            name.removeprefix("upstream "): pages.pop(name)
            for name in list(pages)
            if name.startswith("upstream")
        }
        pages |= {
            "review post": load(
                f"{base}/restaurant/{busiest}/review/",
                seconds=args.seconds,
                connections=args.connections,
                post=True,
                form_page=f"/restaurant/{busiest}/",
            ),
        }
        calls_during = app.token_calls() - calls_before
        redis_calls = len(app.endpoint.calls_for(REDIS_RESOURCE)) - redis_calls_before
        memory = worker_memory_mb(server.process.pid) if server.process else []
        server.stop()
        instance_rows = (
            load_instances(
                env,
                counts=[int(count) for count in args.instances.split(",")],
                budget=args.instance_budget,
                pages={"home page": "/", "restaurant page": f"/restaurant/{busiest}/"},
                seconds=args.seconds,
                connections=args.connections,
                postgres=postgres,
                role=app.role,
                log_dir=Path(media),
            )
            if args.instances
            else []
        )
        redis_memory = (
            redis_server.admin().info("memory")["used_memory"] / 2**20 if redis_server else 0
        )
    finally:
        if server:
            server.stop()
        app.endpoint.stop()
        postgres.stop()
        if redis_server:
            redis_server.cleanup()

    return Measured(
        workers=workers,
        threads=env.get("GUNICORN_THREADS", "4"),
        small=small,
        small_counts=small_counts,
        large_counts=large_counts,
        pages=pages,
        upstream=upstream,
        calls_during=calls_during,
        redis_calls=redis_calls,
        memory=memory,
        instance_rows=instance_rows,
        redis_memory=redis_memory,
    )


def print_figures(args: argparse.Namespace, measured: Measured) -> None:
    pages, upstream, workers = measured.pages, measured.upstream, measured.workers
    small, small_counts, large_counts = measured.small, measured.small_counts, measured.large_counts
    ceiling = pages["bare view (ceiling)"]["rps"]
    print(
        f"\nRestaurant Review benchmark: {workers} gunicorn workers x "
        f"{measured.threads} threads, {args.connections} connections, "
        f"{args.rounds} rounds of {args.seconds:.0f} s per page (medians), "
        "PostgreSQL with Entra tokens, "
        f"{'local-memory caches' if args.no_redis else 'Redis with Entra tokens'}\n"
    )
    print(
        f"{'':38}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'% ceiling':>11}{'queries':>9}{'errors':>8}"
    )
    rows = [*pages.items(), *((f"upstream {name}", result) for name, result in upstream.items())]
    for name, result in rows:
        queries = ",".join(str(q) for q in result["queries"]) or "-"  # none counted upstream
        share = result.get("share", 100 * result["rps"] / ceiling if ceiling else 0)
        label = f"{name} *" if result["paused"] else name
        print(
            f"{label:38}{result['rps']:9.0f}{result['p50_ms']:9.1f}{result['p99_ms']:9.1f}{share:10.0f}%{queries:>9}{result['errors']:8}"
        )
    paused = {name: result["paused"] for name, result in rows if result["paused"]}
    if paused:
        runs = "; ".join(
            f"{name}: {', '.join(f'{taken:.0f} s' for taken in taken_list)}"
            for name, taken_list in paused.items()
        )
        print(
            f"* The machine paused during a run: wrk took longer than its {args.seconds:.0f} s "
            f"({runs}), so its requests/s and errors say nothing of the app. Run again."
        )
    print(
        "\nSQL queries per page (first request after the data changed, then from the cache) "
        f"at {small[0]} restaurants / "
        f"{small[1] + args.busiest // 10} reviews: {small_counts}"
    )
    print(
        f"SQL queries per page at {args.restaurants} restaurants / "
        f"{args.reviews + args.busiest} reviews: {large_counts}"
    )
    print(
        f"Identity-endpoint calls during the load runs: {measured.calls_during} for "
        f"PostgreSQL, {measured.redis_calls} for Redis (token lifetime "
        f"{args.token_lifetime:.0f} s, {workers} worker processes)"
    )
    print(f"Memory per worker (RSS, MB): {', '.join(f'{m:.0f}' for m in measured.memory)}")
    if not args.no_redis:
        print(f"Redis memory used: {measured.redis_memory:.1f} MB")
    if measured.instance_rows:
        print_instances(
            measured.instance_rows,
            budget=args.instance_budget,
            connections=args.connections,
            workers=workers,
        )


def print_targets(measured: Measured) -> None:
    pages, upstream, workers = measured.pages, measured.upstream, measured.workers
    small_counts, large_counts = measured.small_counts, measured.large_counts
    calls_during, redis_calls = measured.calls_during, measured.redis_calls
    print("\nTargets:")
    for name in ("home page", "restaurant page"):
        share = pages[name]["share"]
        rounds = ", ".join(f"{value:.0f}" for value in pages[name]["shares"])
        print(
            f"  {name} >= 50 % of the bare-view ceiling: {share:.0f} % (rounds: {rounds}) "
            f"-> {verdict(share >= 50)}"
        )
    for name in ("home page", "restaurant page"):
        if name in upstream:
            times = times_upstream(pages[name], upstream[name])
            print(
                f"  {name} >= 20 x the upstream sample's (drawn): {times:.1f} x "
                f"-> {verdict(times >= 20)}"
            )
    unchecked = pages[UNCHECKED]
    print(
        f"  (not a target) the restaurant page without its version query, as if it could be "
        f"stale: {unchecked['share']:.0f} % of the ceiling"
        + (
            f", {times_upstream(unchecked, upstream['restaurant page']):.1f} x upstream"
            if "restaurant page" in upstream
            else ""
        )
    )
    constant = small_counts == large_counts
    print(
        f"  queries per page constant as data grows: {small_counts} vs {large_counts} "
        f"-> {verdict(constant)}"
    )
    per_process = calls_during <= workers and redis_calls <= workers
    print(
        f"  identity calls at most one per token lifetime per process and resource: "
        f"{calls_during} + {redis_calls} calls, {workers} workers -> {verdict(per_process)}"
    )


def main() -> None:
    args = arguments()
    measured = measure(args)
    print_figures(args, measured)
    print_targets(measured)


if __name__ == "__main__":
    main()
