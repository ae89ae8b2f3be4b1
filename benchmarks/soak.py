"""Soak: mixed traffic (search, suggestions, articles, events, tickets) against a real uvicorn
on loopback for --minutes, sampling the server's RSS and open file descriptors every 10 s.

Prints each sample and the slope of RSS (KiB/min) and fds (per min) over the second half of
the run, so warm-up caches do not count as growth. Run: .venv/bin/python benchmarks/soak.py
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.common import live_server  # noqa: E402

QUERIES = ["password", "refund", "two factor", "shipping", "reset", "pa", "invoice", "zzqx"]


def sample(pid: int) -> tuple[int, int]:
    """RSS in KiB and open fds of `pid` and its children (uvicorn workers)."""
    pids = [pid, *[int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], text=True,
                                                   capture_output=True).stdout.split()]]
    rss = fds = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss += int(line.split()[1])
        fds += len(os.listdir(f"/proc/{p}/fd"))
    return rss, fds


def slope(points: list[tuple[float, int]]) -> float:
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points) or 1.0
    return sum((t - mx) * (v - my) for t, v in points) / den * 60


def one_request(http: httpx.Client, n: int) -> int:
    kind = n % 10
    if kind < 5:
        return http.get("/api/v1/search", params={"q": random.choice(QUERIES),
                                                  "session": "s_" + "b" * 22}).status_code
    if kind == 5:
        return http.get("/api/v1/suggestions", params={"url": "https://shop.example/a"}).status_code
    if kind in (6, 7):
        return http.get("/api/v1/articles/account/reset-password").status_code
    if kind == 8:
        return http.post("/api/v1/events", json={"session": "s_" + "b" * 22, "events": [
            {"type": "article_view", "slug": "account/reset-password"}]}).status_code
    return http.post("/api/v1/tickets", json={"name": "Soak", "email": "soak@example.com",
                                             "subject": "soak", "message": "m"}).status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deskbell-soak-"))
    shutil.copytree(REPO / "tests" / "data" / "kb", work / "kb")
    subprocess.run([sys.executable, "-c", "from widget_server.search import reindex; "
                    "from pathlib import Path; import sys; reindex(Path(sys.argv[1]), "
                    "Path(sys.argv[2]) / 'index')", str(work / "kb"), str(work / "d")],
                   cwd=REPO, check=True)
    settings = {"kb_dir": work / "kb", "data_dir": work / "d", "api_rate_limit": "1000000/minute",
                "ticket_rate_limit": "1000000/minute", "events_rate_limit": "1000000/minute",
                "events_session_limit": "100000000/hour"}
    try:
        with live_server(settings, app="widget_server.app:app_from_env") as server:
            run(server.pid, server.url, args.minutes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(pid: int, url: str, minutes: float) -> None:
    time.sleep(2)
    start = time.monotonic()
    rss_points: list[tuple[float, int]] = []
    fd_points: list[tuple[float, int]] = []
    counts: dict[int, int] = {}
    n = 0
    next_sample = start
    with httpx.Client(base_url=url, timeout=30) as http:
        while (now := time.monotonic()) - start < minutes * 60:
            if now >= next_sample:
                rss, fds = sample(pid)
                rss_points.append((now - start, rss))
                fd_points.append((now - start, fds))
                print(f"t={now - start:6.0f}s requests={n:7d} rss={rss} KiB fds={fds}", flush=True)
                next_sample += 10
            status = one_request(http, n)
            counts[status] = counts.get(status, 0) + 1
            n += 1
    half = len(rss_points) // 2
    print(f"requests {n} in {minutes} min ({n / (minutes * 60):.0f}/s); statuses {counts}")
    print(f"RSS slope (2nd half) {slope(rss_points[half:]):+.1f} KiB/min; "
          f"fd slope {slope(fd_points[half:]):+.2f}/min; "
          f"RSS {rss_points[0][1]} -> {rss_points[-1][1]} KiB; fds {fd_points[0][1]} -> "
          f"{fd_points[-1][1]}")


if __name__ == "__main__":
    main()
