"""Shared benchmark plumbing: medians with spread, a real uvicorn server, cached indexes.

Every figure is the median of repeated runs with the spread (min–max) beside it. The server
runs as its own process (uvicorn, 127.0.0.1 only) and load comes from another process.
`live_server` is also the tests' launcher of `deskbell serve` (tests import this module).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import deque
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.corpus import ARDUINO, cache_root, synthetic_kb

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
T = TypeVar("T")
PYTHON = sys.executable


@dataclass
class Figure:
    """One reported number: median over runs, the spread, and what it is compared with."""

    part: str
    name: str
    unit: str
    runs: list[float]
    baseline: str = ""
    baseline_runs: list[float] = field(default_factory=list)
    target: str = ""
    met: bool | None = None
    lower_is_better: bool = True

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")

    @property
    def baseline_median(self) -> float | None:
        return statistics.median(self.baseline_runs) if self.baseline_runs else None

    def check(self, limit: float) -> Figure:
        self.met = self.median <= limit if self.lower_is_better else self.median >= limit
        return self

    def as_dict(self) -> dict[str, Any]:
        return {
            "part": self.part, "name": self.name, "unit": self.unit, "median": self.median,
            "min": min(self.runs, default=None), "max": max(self.runs, default=None),
            "runs": self.runs, "baseline": self.baseline, "baseline_median": self.baseline_median,
            "baseline_runs": self.baseline_runs, "target": self.target, "met": self.met,
        }


def fmt(value: float | None) -> str:
    if value is None or value != value:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def spread(runs: Sequence[float]) -> str:
    return f"{fmt(min(runs))}–{fmt(max(runs))}" if len(runs) > 1 else ""


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def print_table(figures: Iterable[Figure]) -> None:
    header = f"{'part':<8} {'figure':<44} {'median':>10} {'spread':>15}  {'baseline (same run)':<34} {'target':<12}"
    print(header)
    print("-" * len(header))
    for f in figures:
        base = f"{f.baseline} {fmt(f.baseline_median)}" if f.baseline else ""
        mark = {True: "ok", False: "MISSED", None: ""}[f.met]
        target = f"{f.target} {mark}".strip()
        print(f"{f.part:<8} {f.name + ' (' + f.unit + ')':<44} {fmt(f.median):>10} "
              f"{spread(f.runs):>15}  {base:<34} {target:<12}")


def write_result(name: str, result: Any) -> Path:
    """Write a benchmark's figures to benchmarks/results/<name>.json (indented, one final
    newline) and return that path."""
    out = RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(coroutine) on a thread of its own: the calling thread may already run an
    event loop (a test session where Playwright holds one), where asyncio.run refuses."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


# ---------------------------------------------------------------- PostgreSQL and Redis

POSTGRES = os.environ.get("POSTGRES_TEST_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


class ServiceMissing(RuntimeError):
    """PostgreSQL or Redis cannot be reached (tests turn this into `unavailable`)."""


@contextmanager
def postgres_schema(base: str = POSTGRES, prefix: str = "deskbell_test") -> Iterator[str]:
    """A URL whose search_path selects a fresh, empty schema of `base` (a random name), dropped
    with everything in it afterwards: each test or benchmark run has its own."""
    import secrets

    try:
        import psycopg
        from psycopg import sql
    except ImportError as exc:
        raise ServiceMissing("psycopg is not installed (pip install -e '.[test]')") from exc
    schema = f"{prefix}_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise ServiceMissing(f"PostgreSQL is not reachable at {base}: {exc}") from exc
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            joiner = "&" if "?" in base else "?"
            yield f"{base}{joiner}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@contextmanager
def redis_database() -> Iterator[str]:
    """A Redis database (1-15) of the machine's Redis claimed for the caller alone (a key in
    database 0 marks it, so parallel runs never share one), emptied before and after."""
    try:
        import redis
    except ImportError as exc:
        raise ServiceMissing("redis is not installed (pip install -e '.[test]')") from exc
    lock = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0, socket_timeout=2)
    try:
        lock.ping()
    except redis.RedisError as exc:
        raise ServiceMissing(f"Redis is not reachable on {REDIS_HOST}:{REDIS_PORT} ({exc})") \
            from exc
    owner = uuid.uuid4().hex
    for number in range(1, 16):
        if lock.set(f"deskbell-test-db:{number}", owner, nx=True, ex=3600):
            break
    else:
        raise RuntimeError("every Redis database 1-15 is claimed (deskbell-test-db:N in db 0)")
    own = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number)
    own.flushdb()
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    finally:
        own.flushdb()
        if lock.get(f"deskbell-test-db:{number}") == owner.encode():
            lock.delete(f"deskbell-test-db:{number}")


DESKBELL = Path(PYTHON).with_name("deskbell")  # the console script beside this interpreter
_STARTED = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@dataclass
class Server:
    """A live server process, the port it bound and its latest lines of output."""

    process: subprocess.Popen[str]
    port: int
    log: deque[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def live_server(settings: Mapping[str, object] | None = None, *, workers: int = 1,
                app: str | None = None, command: Sequence[str] = (), port: int = 0,
                cwd: Path = REPO, timeout: float = 120.0, echo: bool = False) -> Iterator[Server]:
    """`deskbell serve --host 127.0.0.1 --port 0 --workers N` in its own process (group), with
    `settings` (names such as "data_dir") as DESKBELL_* variables; yields once /healthz answers.

    The one launcher of live Deskbell servers for tests and benchmarks. Port 0, not a port
    chosen beforehand: the kernel picks a free port as uvicorn binds it and uvicorn names it
    on its start line ("Uvicorn running on http://127.0.0.1:PORT"), read here from the
    server's output, so no other process can take the port between choosing and binding it.
    With workers too: the supervisor binds once and its workers share that socket.

    `app`: a factory ("module:function") to serve instead, through uvicorn's own command line
    with the same host, port, workers and start line (the benchmarks add a fixed-JSON route
    to Deskbell's app). `command`: another `deskbell` command line that serves on the `port`
    it names (`demo --port P`: the demo's host page names the server's URL before anything is
    bound, so it cannot take port 0). `cwd` is where `deskbell` looks for deskbell.toml.

    The output is drained all along, so a chatty server never blocks on a full pipe; `echo`
    also copies it to stderr. Leaving the block stops the server with SIGTERM (uvicorn's
    graceful stop), then SIGKILL to the whole group if it has not exited within 15 seconds.
    """
    if command:
        cmd = [str(DESKBELL), *command]
    else:
        cmd = [str(DESKBELL), "serve"] if app is None else [
            PYTHON, "-m", "uvicorn", "--factory", app, "--no-access-log", "--log-level", "info"]
        cmd += ["--host", "127.0.0.1", "--port", "0", "--workers", str(workers)]
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path,
           **{f"DESKBELL_{name.upper()}": str(value) for name, value in (settings or {}).items()}}
    process = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    log: deque[str] = deque(maxlen=400)
    ports: queue.Queue[int] = queue.Queue()
    if command:
        ports.put(port)
    reader = threading.Thread(target=_drain, args=(process, log, ports, echo), daemon=True)
    reader.start()
    try:
        yield Server(process, _wait_ready(process, ports, log, timeout), log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # still unreaped: the group is ours
                process.wait()
        reader.join(timeout=5)


def _drain(process: subprocess.Popen[str], log: deque[str], ports: queue.Queue[int],
           echo: bool) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        log.append(line)
        if echo:
            sys.stderr.write(line)
        if found := _STARTED.search(line):
            ports.put(int(found.group(1)))


def _wait_ready(process: subprocess.Popen[str], ports: queue.Queue[int], log: deque[str],
                timeout: float) -> int:
    deadline = time.monotonic() + timeout
    port = 0
    while time.monotonic() < deadline:
        if process.poll() is not None:
            time.sleep(0.1)  # let the reader take the last lines
            raise RuntimeError(f"the server exited with {process.returncode}:\n" + "".join(log))
        if not port:
            try:
                port = ports.get(timeout=0.1)
            except queue.Empty:
                continue
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the server did not answer /healthz within {timeout:.0f} s:\n"
                       + "".join(log))


BENCH_ENV = {
    "DESKBELL_API_RATE_LIMIT": "1000000/second",
    "DESKBELL_TICKET_RATE_LIMIT": "1000000/second",
    "DESKBELL_EVENTS_RATE_LIMIT": "1000000/second",
}


@contextmanager
def running_server(data_dir: Path, kb_dir: Path, timeout: float = 120.0,
                   settings: dict[str, str] | None = None) -> Iterator[Server]:
    """Deskbell plus a fixed-JSON route (benchmarks.server) on 127.0.0.1, through `live_server`.
    `settings`: extra DESKBELL_* variables, e.g. {"DESKBELL_SEMANTIC": "false"}."""
    named = {key.removeprefix("DESKBELL_").lower(): value
             for key, value in {**BENCH_ENV, **(settings or {})}.items()}
    with live_server({"data_dir": data_dir, "kb_dir": kb_dir, **named},
                     app="benchmarks.server:app", timeout=timeout, echo=True) as server:
        yield server


def health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


def load(port: int, paths: list[str], *, concurrency: int = 1, max_seconds: float = 30.0,
         max_requests: int | None = None, method: str = "GET",
         bodies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run benchmarks.loadgen in its own process and return its JSON report."""
    job = {"port": port, "paths": paths, "concurrency": concurrency, "max_seconds": max_seconds,
           "max_requests": max_requests or len(paths), "method": method, "bodies": bodies}
    out = subprocess.run([PYTHON, "-m", "benchmarks.loadgen"], input=json.dumps(job).encode(),
                         capture_output=True, cwd=REPO, check=True, timeout=max_seconds + 60)
    report: dict[str, Any] = json.loads(out.stdout)
    return report


def index_for(size: int | None) -> tuple[Path, Path, float | None]:
    """(kb_dir, data_dir, build seconds or None if cached) for the arduino KB or a synthetic one.

    Indexes are cached beside the synthetic KBs and rebuilt when the index code changes or
    the live generation has no vectors (an index built before search ranked by meaning).
    """
    kb_dir = ARDUINO if size is None else synthetic_kb(size)
    data_dir = cache_root() / f"data-{size or 'arduino'}"
    stamp = data_dir / ".index-code"
    code = _index_code_hash()
    from widget_server.search import current_generation, reindex
    from widget_server.search.vectors import Vectors

    live = current_generation(data_dir / "index")
    if stamp.is_file() and stamp.read_text() == code and live \
            and Vectors.present(data_dir / "index" / live):
        return kb_dir, data_dir, None
    started = time.perf_counter()
    reindex(kb_dir, data_dir / "index", full=True)
    stamp.write_text(code)
    return kb_dir, data_dir, time.perf_counter() - started


def _index_code_hash() -> str:
    from widget_server import articles, text
    from widget_server.search import schema, vectors

    source = "".join(inspect.getsource(f) for f in (
        schema.make_schema, schema._document, schema.prepare, text.stem_tokens, text.stem))
    source += inspect.getsource(articles) + inspect.getsource(vectors)
    return hashlib.sha256(source.encode()).hexdigest()[:16]
