"""Past one machine: tickets in PostgreSQL against the JSON store, and one node against two.

`python -m benchmarks --only scale` (1k stored tickets; 1k and 10k in the full run), or on
its own: `python -m benchmarks.bench_scale --sizes 1k,100k,1m [--repeats 3 --count 200
--seconds 8 --workers 1]` (same table, same results files).

1. Ticket creation through HTTP, as bench_tickets_http.py times it: `POST /api/v1/tickets`
   one at a time (loadgen, one connection), `count` tickets into a store already holding N
   (the same documents as bench_tickets.py), one server (benchmarks.server app, one worker,
   no search index). Each store is filled once per size and copied for each round: the JSON
   store written on disk by bench_tickets.build_ticket_store (byte for byte what the store's
   own adds leave; tests/test_bench_fill.py) and copied as hard links; PostgreSQL a database
   of its own at the current migration, filled with COPY (rows as PostgresTicketStore
   writes them, indexes in place, then VACUUM ANALYZE) and copied with CREATE DATABASE …
   TEMPLATE. 1M tickets fill in minutes (2–3 for the JSON store, 5–6 for PostgreSQL, on 2 cores).
   p50 and p95 per size; baseline in the same run: the JSON store, rounds alternating which
   store goes first.
2. Throughput past one node: nodes (the same app, `--workers` each, default 1) sharing one
   PostgreSQL schema (holding 1k tickets) and one Redis database for the rate limits (set to
   1,000,000/s: counted in Redis on every request, never refusing). Tickets created over 8
   connections for `seconds`; search by bench_search's cache-cold mixed stream (keystrokes
   and finished queries of the three quality sets' questions, each request once, about 8%
   finished) over 8 connections for at most `seconds`, on the arduino help center, ranked by
   words and meaning as shipped. One node takes the 8 connections; two nodes take 4 each,
   from two load generator processes running at once (the mixed stream dealt alternately);
   requests/s is the sum over nodes of requests / elapsed. Baseline: one node in the same
   run, the order of the two setups alternating between repeats.

On one 2-core machine the nodes and the load generators share the cores: a second node can at
best use what a one-worker node leaves idle. This checks that the shared stores do not
serialize the nodes; it is not what two machines would give.

Needs the PostgreSQL the tests use (DESKBELL_BENCH_POSTGRES, default
postgresql://postgres@127.0.0.1:5432/test: a schema of its own, dropped afterwards) and Redis
on 127.0.0.1:6379 (one of databases 1-15, claimed as the tests claim theirs).
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.bench_search import _mixed, _paths
from benchmarks.bench_tickets import build_ticket_store, document, link_copy
from benchmarks.bench_tickets_http import TICKET
from benchmarks.common import (
    BENCH_ENV,
    POSTGRES,
    Figure,
    Server,
    health,
    index_for,
    live_server,
    load,
    percentile,
    postgres_schema,
    print_table,
    redis_database,
    running_server,
)
from benchmarks.corpus import ARDUINO, cache_root

CONNECTIONS = 8
COLUMNS = ("reference", "status", "email_key", "created_at", "updated_at", "search", "document")
LIMITS = {key.removeprefix("DESKBELL_").lower(): value for key, value in BENCH_ENV.items()}


# ---------------------------------------------------------------- shared stores


def _fill(url: str, stored: int) -> None:
    """Migrate the schema `url` selects to the current version and COPY `stored` tickets in,
    rows as PostgresTicketStore writes them (its own _columns), indexes in place; then
    VACUUM ANALYZE, as autovacuum would have left a table that grew over months."""
    import psycopg
    from psycopg import sql

    from widget_server.tickets import pg_schema
    from widget_server.tickets.postgres import _columns

    with pg_schema.connect(url) as conn:
        pg_schema.upgrade(conn)
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur, cur.copy(
                sql.SQL("COPY tickets ({}) FROM STDIN").format(
                    sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))) as copy:
            copy.set_types(["text", "text", "text", "text", "text", "text[]", "text"])  # the document as JSON text
            for i in range(stored):
                row = _columns(document(i))
                copy.write_row([row[name] for name in COLUMNS])
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE tickets")


@contextmanager
def filled_schema(stored: int) -> Iterator[str]:
    """A fresh schema at the current migration holding `stored` tickets; yields its URL."""
    with postgres_schema(POSTGRES, prefix="deskbell_bench") as url:
        _fill(url, stored)
        yield url


def _database_url(name: str) -> str:
    return urlsplit(POSTGRES)._replace(path=f"/{name}").geturl()


def _admin(statement: str, name: str, template: str | None = None) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(sql.SQL(statement).format(name=sql.Identifier(name),
                                               template=sql.Identifier(template or name)))


@contextmanager
def filled_database(stored: int) -> Iterator[str]:
    """A database of its own (beside DESKBELL_BENCH_POSTGRES's, on the same server) holding
    `stored` tickets in its public schema, filled once per size: each round gets a copy
    (database_copy), so filling 1M tickets is paid once, not once per round. Yields its name."""
    name = f"deskbell_bench_{secrets.token_hex(6)}"
    _admin("CREATE DATABASE {name}", name)
    try:
        started = time.perf_counter()
        _fill(_database_url(name), stored)
        print(f"  PostgreSQL filled with {stored:,} tickets (COPY, VACUUM ANALYZE) in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        yield name
    finally:
        _admin("DROP DATABASE IF EXISTS {name} WITH (FORCE)", name)


@contextmanager
def database_copy(template: str) -> Iterator[str]:
    """A copy of the database `template` (CREATE DATABASE … TEMPLATE, its files copied as
    they are: the same pages, indexes and statistics); yields its URL, dropped afterwards."""
    name = f"{template}_{secrets.token_hex(3)}"
    started = time.perf_counter()
    _admin("CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY", name, template)
    print(f"  PostgreSQL copied in {time.perf_counter() - started:.1f} s", flush=True)
    try:
        from widget_server.tickets import pg_schema

        url = _database_url(name)
        with pg_schema.connect(url) as conn:  # the server refuses a schema behind its code,
            applied = pg_schema.upgrade(conn)  # and a 1M run is long enough for one to land
        if applied:
            print(f"  the copy migrated to {applied[-1].label} (newer than the fill)", flush=True)
        yield url
    finally:
        _admin("DROP DATABASE IF EXISTS {name} WITH (FORCE)", name)


@contextmanager
def filled_json(stored: int) -> Iterator[Path]:
    """A data folder whose JSON ticket store holds `stored` tickets, filled once per size
    (build_ticket_store); each round gets a hard-link copy of its tickets (link_copy)."""
    with tempfile.TemporaryDirectory(dir=cache_root()) as tmp:
        started = time.perf_counter()
        build_ticket_store(Path(tmp), (document(i) for i in range(stored)))
        print(f"  JSON store filled with {stored:,} tickets in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        yield Path(tmp)


# ---------------------------------------------------------------- 1: create latency, JSON vs PG


def _create_round(count: int, store: str, filled: Path | str) -> dict[str, float]:
    """`count` tickets created through HTTP into a copy of the filled store `filled` (a data
    folder for the JSON store, a template database's name for PostgreSQL)."""
    bodies = [{**TICKET, "subject": f"Cannot upload a sketch ({i})"} for i in range(count)]
    with tempfile.TemporaryDirectory(dir=cache_root()) as tmp, ExitStack() as stack:
        data_dir = Path(tmp)
        settings: dict[str, str] = {}
        if store == "json":
            started = time.perf_counter()
            link_copy(Path(filled) / "tickets", data_dir / "tickets")
            print(f"  JSON store copied in {time.perf_counter() - started:.1f} s", flush=True)
        else:
            settings["DESKBELL_TICKET_STORE"] = stack.enter_context(database_copy(str(filled)))
        with running_server(data_dir, ARDUINO, settings=settings, timeout=300) as server:
            created = load(server.port, ["/api/v1/tickets"], method="POST", bodies=bodies,
                           max_requests=count, max_seconds=600)
    if created["errors"] or len(created["latencies_ms"]) < count:
        raise RuntimeError(f"ticket creation ({store}) failed: {created['statuses']}")
    latencies = created["latencies_ms"]
    return {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95)}


# ---------------------------------------------------------------- 2: one node against two


def _start_nodes(stack: ExitStack, count: int, workers: int, ticket_store: str,
                 limit_store: str, index_dir: Path) -> list[Server]:
    """`count` nodes on the shared stores, each with its own data_dir (a copy of the index),
    started at once; each answers /healthz, ranks by meaning and has been warmed up."""
    data_dirs = [Path(stack.enter_context(tempfile.TemporaryDirectory(dir=cache_root())))
                 for _ in range(count)]

    def start(data_dir: Path) -> tuple[Any, Server]:
        shutil.copytree(index_dir, data_dir / "index")
        launcher = live_server({**LIMITS, "data_dir": data_dir, "kb_dir": ARDUINO,
                                "ticket_store": ticket_store, "rate_limit_storage": limit_store},
                               app="benchmarks.server:app", workers=workers, timeout=300)
        return launcher, launcher.__enter__()

    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(start, data_dir) for data_dir in data_dirs]
    for future in futures:  # every node that started is stopped with the stack, even if
        if future.exception() is None:  # another failed to start
            stack.push(future.result()[0])
    servers = [future.result()[1] for future in futures]
    for server in servers:
        deadline = time.monotonic() + 120
        while "".join(server.log).count("Application startup complete") < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("a worker did not start:\n" + "".join(server.log))
            time.sleep(0.05)
        ranking = health(server.port)["search"]["ranking"]
        if ranking != "hybrid":
            raise RuntimeError(f"the node ranks {ranking}: {health(server.port)}")
        warm = [f"/api/v1/search?q=warm+up+question+number+{i}" for i in range(8 * workers)]
        load(server.port, warm, concurrency=workers, max_seconds=60)
        load(server.port, ["/api/v1/tickets"], method="POST", bodies=[TICKET],
             max_requests=4 * workers, concurrency=workers, max_seconds=60)
    return servers


def _together(jobs: list[dict[str, Any]]) -> float:
    """Run one load generator per job at once; total requests/s over them all."""
    reports: list[dict[str, Any]] = [{} for _ in jobs]

    def run(i: int) -> None:
        job = dict(jobs[i])
        try:
            reports[i] = load(job.pop("port"), job.pop("paths"), **job)
        except Exception as exc:  # reported below, from the caller's thread
            reports[i] = {"failed": repr(exc)}

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for report in reports:
        bad = {code: n for code, n in report.get("statuses", {}).items() if code[0] != "2"}
        if "failed" in report or bad:
            raise RuntimeError(f"a load generator failed or got errors: {bad or report}")
    return sum(len(r["latencies_ms"]) / float(r["elapsed_s"]) for r in reports)


def _throughput_round(nodes: int, seed: int, seconds: float, workers: int,
                      index_dir: Path) -> dict[str, float]:
    paths = _paths(_mixed(seed, set(), semantic=True))
    bodies = [{**TICKET, "subject": f"Upload fails (node run {i})"} for i in range(500)]
    per_node = CONNECTIONS // nodes
    with ExitStack() as stack:
        ticket_store = stack.enter_context(filled_schema(1000))
        limit_store = stack.enter_context(redis_database())
        servers = _start_nodes(stack, nodes, workers, ticket_store, limit_store, index_dir)
        create = _together([
            {"port": s.port, "paths": ["/api/v1/tickets"], "method": "POST", "bodies": bodies,
             "concurrency": per_node, "max_seconds": seconds,
             "max_requests": int(seconds * 3000)} for s in servers])
        search = _together([
            {"port": s.port, "paths": paths[i::nodes], "concurrency": per_node,
             "max_seconds": seconds, "max_requests": len(paths[i::nodes])}
            for i, s in enumerate(servers)])
    return {"create_rps": create, "search_rps": search}


# ---------------------------------------------------------------- the part


def run(sizes: list[int], repeats: int, seconds: float, count: int = 200,
        workers: int = 1) -> list[Figure]:
    figures: list[Figure] = []
    for size in sizes:
        label = f"{_size_label(size)} stored"
        rounds: dict[str, list[dict[str, float]]] = {"json": [], "postgresql": []}
        with filled_json(size) as folder, filled_database(size) as database:
            filled: dict[str, Path | str] = {"json": folder, "postgresql": database}
            for r in range(repeats):
                for store in (("json", "postgresql") if r % 2 == 0 else ("postgresql", "json")):
                    rounds[store].append(_create_round(count, store, filled[store]))
                    print(f"  create, {label}, {store}: p50 {rounds[store][-1]['p50']:.2f} ms, "
                          f"p95 {rounds[store][-1]['p95']:.2f} ms", flush=True)
        for q in (95, 50):
            key = f"p{q}"
            fig = Figure("scale", f"HTTP create {key}, {label}, PostgreSQL", "ms",
                         [x[key] for x in rounds["postgresql"]], f"JSON store {key}",
                         [x[key] for x in rounds["json"]], "≤ 25" if q == 95 else "")
            figures.append(fig.check(25) if q == 95 else fig)

    _, data_dir, _ = index_for(None)  # the arduino help center's index, with its vectors
    runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    for r in range(repeats):
        for nodes in ((1, 2) if r % 2 == 0 else (2, 1)):
            runs[nodes].append(_throughput_round(nodes, r, seconds, workers,
                                                 data_dir / "index"))
            print(f"  {nodes} node(s) x {workers} worker(s): create "
                  f"{runs[nodes][-1]['create_rps']:.0f} req/s, search "
                  f"{runs[nodes][-1]['search_rps']:.0f} req/s", flush=True)
    for key, what in (("create_rps", "create"), ("search_rps", "search mixed cache-cold")):
        figures.append(Figure("scale", f"{what}, 2 nodes c={CONNECTIONS}", "req/s",
                              [x[key] for x in runs[2]], "1 node",
                              [x[key] for x in runs[1]], lower_is_better=False))
    return figures


def _size_label(size: int) -> str:
    """1000000 as 1M, 100000 as 100k, 500 as 500."""
    for unit, scale in (("M", 1_000_000), ("k", 1000)):
        if size >= scale and size % (scale // 10) == 0:
            return f"{size / scale:g}{unit}"
    return str(size)


def _sizes(text: str) -> list[int]:
    """Stored-ticket counts from "1k,100k,1m" (k and m, either case; plain numbers too)."""
    scales = {"k": 1000, "m": 1_000_000}

    def one(item: str) -> int:
        item = item.strip().lower()
        try:
            if item[-1:] in scales:
                return round(float(item[:-1]) * scales[item[-1]])
            return int(item)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a number of tickets: {item!r} (say 1000, 100k or 1m)") from None
    return [one(item) for item in text.split(",") if item.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=[1000], type=_sizes,
                        help="stored tickets, comma list: 1k,100k,1m")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--count", type=int, default=200, help="tickets timed per round")
    parser.add_argument("--seconds", type=float, default=8.0, help="each throughput window")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers per node")
    args = parser.parse_args()
    from benchmarks.__main__ import _write

    started = time.perf_counter()
    figures = run(args.sizes, args.repeats, args.seconds, args.count, args.workers)
    print()
    print_table(figures)
    _write(figures, False, time.perf_counter() - started)


if __name__ == "__main__":
    main()
