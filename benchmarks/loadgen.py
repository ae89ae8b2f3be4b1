"""A small HTTP/1.1 load generator over raw asyncio sockets (keep-alive, loopback only).

Reads one job as JSON on stdin: {"port", "paths", "concurrency", "max_requests",
"max_seconds", "method", "bodies"}; prints {"latencies_ms", "elapsed_s", "errors",
"statuses"}. Each of `concurrency` connections sends its next request as soon as the previous
answer is read (closed loop). The run stops after max_requests or max_seconds, whichever
comes first, so it always ends by itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

HOST = "127.0.0.1"  # only ever loopback


def _request(method: str, path: str, port: int, body: bytes) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: deskbell-bench\r\n"
    if body:
        head += (f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                 f"Origin: http://{HOST}:{port}\r\n")
    return (head + "\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status


async def _worker(job: dict[str, Any], queue: list[bytes], state: dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection(HOST, job["port"])
    try:
        while state["next"] < len(queue) and time.perf_counter() < state["deadline"]:
            raw = queue[state["next"]]
            state["next"] += 1
            started = time.perf_counter()
            writer.write(raw)
            await writer.drain()
            status = await _read_response(reader)
            state["latencies"].append((time.perf_counter() - started) * 1000)
            state["statuses"][status] += 1
    finally:
        writer.close()


async def run(job: dict[str, Any]) -> dict[str, Any]:
    paths = job["paths"]
    bodies = job.get("bodies") or [None] * len(paths)
    total = job["max_requests"]
    queue = [
        _request(job["method"], paths[i % len(paths)], job["port"],
                 json.dumps(bodies[i % len(bodies)]).encode() if bodies[i % len(bodies)] else b"")
        for i in range(total)
    ]
    state: dict[str, Any] = {"next": 0, "latencies": [], "statuses": Counter(),
                             "deadline": time.perf_counter() + job["max_seconds"]}
    started = time.perf_counter()
    await asyncio.gather(*(_worker(job, queue, state) for _ in range(job["concurrency"])))
    elapsed = time.perf_counter() - started
    errors = sum(n for code, n in state["statuses"].items() if code >= 400)
    return {"latencies_ms": state["latencies"], "elapsed_s": elapsed, "errors": errors,
            "statuses": {str(k): v for k, v in state["statuses"].items()}}


def main() -> None:
    job = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(run(job))))


if __name__ == "__main__":
    main()
