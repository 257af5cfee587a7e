"""Search at size: the home page's queries for typical searches, on SQLite and on PostgreSQL
(through the Entra-token backend, pg_trgm installed), with 1,000 restaurants and 20 reviews
each by default. For each search: the queries the page ran, the slowest of them (the median
of --repeat runs, the page cache emptied before each), what the page found, and on PostgreSQL
whether the search read a trigram index or scanned the table.

    python3 -m benchmarks.search                     # 1,000 restaurants x 20 reviews
    python3 -m benchmarks.search --restaurants 10000 --repeat 3

Needs the PostgreSQL server binaries (./run-tests.sh installs them). Not part of the suite.
"""

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from localazure.postgres import PostgresServer, find_bindir, make_postgres_app
from localazure.services import manage

# (what it shows, the query string)
SEARCHES = [
    ("one word", {"q": "pizza"}),
    ("two words, any order", {"q": "napoli pizz"}),
    ("a dish word (descriptions)", {"q": "noodles"}),
    ("a dish word and a cuisine", {"q": "sushi japanese"}),
    ("a typo (closest spellings)", {"q": "pizzria"}),
    ("nothing matches", {"q": "xqzzv"}),
    ("search, filtered and sorted", {"q": "a", "price": "2", "rating": "3", "sort": "rating"}),
    ("no search, page 20", {"page": "20"}),
]


def timer(into: list[tuple[float, str, Any]]) -> Any:
    """A database execute wrapper that adds (ms, SQL, parameters) of each query to `into`."""

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            into.append(((time.perf_counter() - start) * 1000, sql, params))

    return timed


def measure(repeat: int) -> list[dict[str, Any]]:
    """In a process set up for one database (the environment says which): each search's
    queries, its slowest query's median time in ms, and the plan of that slowest query."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "azureproject.settings")
    django.setup()
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    rows = []
    for label, params in SEARCHES:
        runs: list[list[tuple[float, str, Any]]] = []
        found = 0
        for _ in range(repeat):
            for cache in caches.all():
                cache.clear()
            timed: list[tuple[float, str, Any]] = []
            with connection.execute_wrapper(timer(timed)):
                response = client.get("/", params)
            assert response.status_code == 200, (label, response.status_code)
            listed = re.search(r"of ([\d,]+) restaurants?</p>", response.content.decode())
            found = int(listed.group(1).replace(",", "")) if listed else 0
            runs.append(timed)
        slowest = [max(run, key=lambda query: query[0]) for run in runs]
        plan = ""
        if connection.vendor == "postgresql":
            sql, query_params = slowest[0][1], slowest[0][2]
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN {sql}", query_params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
        rows.append(
            {
                "search": label,
                "queries": len(runs[-1]),
                "slowest_ms": statistics.median(query[0] for query in slowest),
                "found": found,
                "reads": "trigram index" if "trgm_idx" in plan else ("table" if plan else ""),
            }
        )
    return rows


def run_child(env: dict[str, str], repeat: int) -> list[dict[str, Any]]:
    result = manage(
        "shell",
        "-c",
        f"import json; from benchmarks.search import measure; print(json.dumps(measure({repeat})))",
        env=env,
        timeout=1800,
    )
    if result.returncode != 0:
        sys.exit(f"measuring failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def seed(env: dict[str, str], restaurants: int, reviews: int) -> None:
    for args in (
        ("migrate", "--noinput"),
        ("seed_demo", f"--restaurants={restaurants}", f"--reviews={reviews}", "--reset"),
    ):
        result = manage(*args, env=env, timeout=1800)
        if result.returncode != 0:
            sys.exit(f"{' '.join(args)} failed:\n{result.stderr}")


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    print("| search | queries | slowest query ms | found | slowest query reads |")
    print("| --- | ---: | ---: | ---: | --- |")
    for row in rows:
        print(
            f"| {row['search']} | {row['queries']} | {row['slowest_ms']:.1f} | {row['found']} | "
            f"{row['reads'] or '-'} |"
        )
    print(f"worst: {max(row['slowest_ms'] for row in rows):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--restaurants", type=int, default=1000)
    parser.add_argument("--reviews-each", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reviews = args.restaurants * args.reviews_each
    size = f"{args.restaurants:,} restaurants, {reviews:,} reviews"
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sqlite = {"SQLITE_PATH": str(folder / "search.sqlite3"), "POST_LIMITS": "off"}
        seed(sqlite, args.restaurants, reviews)
        print_table(f"SQLite, {size}", run_child(sqlite, args.repeat))
        bindir = find_bindir()
        if bindir is None:
            sys.exit("PostgreSQL server binaries not found: ./run-tests.sh installs them")
        server = PostgresServer(bindir).start()
        stack.callback(server.stop)
        app = make_postgres_app(server)
        stack.callback(app.endpoint.stop)
        postgres = {**app.env, "POST_LIMITS": "off"}
        seed(postgres, args.restaurants, reviews)
        print_table(f"PostgreSQL, {size}", run_child(postgres, args.repeat))


if __name__ == "__main__":
    main()
