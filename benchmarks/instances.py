"""For benchmarks/run.py: the same load on 1, 2, 4 … instances of the app on one PostgreSQL
server, as App Service scales out on one Flexible Server.

Each instance is gunicorn with the benchmark's settings and workers, and its share of a
connection budget as deploy.sh gives it (DB_MAX_CONNECTIONS = the budget ÷ the instances;
35 by default, a Burstable B1ms's connections for the app). Each page is drawn a few times on
each instance first; then wrk loads every instance at once with the benchmark's connections
each, the home page and then a restaurant page, while the server's connections of the app's
role are sampled (localazure/postgres.py's ConnectionWatch).
"""

import statistics
from pathlib import Path

from localazure.load import load_together
from localazure.postgres import ConnectionWatch, PostgresServer
from localazure.services import http_request, instances_together


def load_instances(
    env: dict[str, str],
    *,
    counts: list[int],
    budget: int,
    pages: dict[str, str],
    seconds: float,
    connections: int,
    postgres: PostgresServer,
    role: str,
    log_dir: Path,
) -> list[dict]:
    """One row per instance count and page: req/s per instance (mean) and in all, the worst
    p99, errors, and the most server connections held."""
    rows = []
    for count in counts:
        env_each = {**env, "DB_MAX_CONNECTIONS": str(budget // count)}
        with instances_together(
            env_each, count, log_dir / f"instances-{count}", start_sh=True
        ) as servers:
            for server in servers:
                for path in pages.values():  # drawn once by each worker: the cache warm
                    for _ in range(4):
                        http_request(server.url + path)
            for page, path in pages.items():
                with ConnectionWatch(postgres, role) as watch:
                    runs = load_together(
                        [server.url + path for server in servers],
                        seconds=seconds,
                        connections=connections,
                    )
                rows.append(
                    {
                        "instances": count,
                        "page": page,
                        "budget": budget // count,
                        "rps_each": statistics.mean(run["rps"] for run in runs),
                        "rps_all": sum(run["rps"] for run in runs),
                        "p99_ms": max(run["p99_ms"] for run in runs),
                        "errors": sum(run["errors"] for run in runs),
                        "server_connections": watch.most,
                    }
                )
    return rows


def print_instances(rows: list[dict], *, budget: int, connections: int, workers: int) -> None:
    print(
        f"\nInstances on one server: {workers} workers each, wrk with {connections} connections "
        f"on every instance at once, DB_MAX_CONNECTIONS = {budget} / instances"
    )
    print(
        f"{'':22}{'instances':>10}{'budget':>8}{'req/s each':>12}{'req/s all':>11}"
        f"{'p99 ms':>9}{'errors':>8}{'server conns':>14}"
    )
    for row in rows:
        print(
            f"{row['page']:22}{row['instances']:>10}{row['budget']:>8}{row['rps_each']:12.0f}"
            f"{row['rps_all']:11.0f}{row['p99_ms']:9.1f}{row['errors']:8}"
            f"{row['server_connections']:>14}"
        )
