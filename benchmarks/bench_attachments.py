"""Attachments: upload limits under a slow client, and upload throughput by file type.

Run:  .venv/bin/python benchmarks/bench_attachments.py [--repeats 5] [--mb 5]

1. A client trickling a chunked upload (16 KB every 10 ms, about 1.6 MB/s) past
   `attachment_max_bytes` (1 MB here): the time from the first byte to the 413, how many
   bytes of the file it had sent by then, and how many files were stored (must be 0).
2. Uploads through real uvicorn on loopback, one ticket with one file each: a PNG of noise
   (incompressible, so about `--mb` MB) against a PDF of the same size. The PDF is only
   checked and written; the image is decoded and re-encoded (attachments.inspect), so the
   difference is the cost of cleaning an image. Also inspect() alone, in process.
Prints medians and writes benchmarks/results/attachments.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import select
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.common import write_result  # noqa: E402
from widget_server.app import create_app  # noqa: E402
from widget_server.attachments import Upload, inspect  # noqa: E402
from widget_server.settings import load_settings  # noqa: E402

TICKET = {"name": "Ada", "email": "ada@example.com", "subject": "Upload", "message": "A file.",
          "elapsed_ms": 5000}
LIMIT = 1_000_000


def serve(data_dir: Path, **overrides: Any) -> tuple[uvicorn.Server, str]:
    settings = load_settings(overrides={
        "data_dir": str(data_dir), "kb_dir": str(data_dir / "kb"),
        "ticket_rate_limit": "100000/minute", **overrides}, config_file=None, environ={})
    (data_dir / "kb").mkdir(parents=True, exist_ok=True)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=0,
                                           log_level="warning", ws="none"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, f"127.0.0.1:{port}"


def stored_files(data_dir: Path) -> int:
    root = data_dir / "attachments"
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def trickle(address: str, chunk: int = 16 * 1024, pause: float = 0.01) -> dict[str, float]:
    host, port = address.split(":")
    boundary = "benchboundary"
    start = (f'--{boundary}\r\nContent-Disposition: form-data; name="json"\r\n\r\n'
             f"{json.dumps(TICKET)}\r\n--{boundary}\r\nContent-Disposition: form-data; "
             f'name="files"; filename="slow.txt"\r\n\r\n').encode()
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall((f"POST /api/v1/tickets HTTP/1.1\r\nHost: {address}\r\nTransfer-Encoding: "
                  f"chunked\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
                  ).encode() + b"%x\r\n%s\r\n" % (len(start), start))
    began, sent = time.perf_counter(), 0
    with sock:
        while sent < 10 * LIMIT:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (chunk, b"a" * chunk))
            except OSError:
                break
            sent += chunk
            if select.select([sock], [], [], pause)[0]:
                break
        status = sock.recv(64).split(b" ")[1].decode()
        return {"status": int(status), "seconds": time.perf_counter() - began,
                "file_bytes_sent": sent}


def noise_png(mb: float) -> bytes:
    side = int((mb * 1_000_000 / 3) ** 0.5)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def uploads(address: str, name: str, data: bytes, kind: str, repeats: int) -> list[float]:
    times = []
    with httpx.Client(base_url=f"http://{address}", timeout=120) as client:
        for _ in range(repeats):
            began = time.perf_counter()
            answer = client.post("/api/v1/tickets", data={"json": json.dumps(TICKET)},
                                 files=[("files", (name, data, kind))])
            times.append(time.perf_counter() - began)
            assert answer.status_code == 201, answer.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--mb", type=float, default=5.0)
    args = parser.parse_args()
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server, address = serve(root / "slow", attachment_max_bytes=LIMIT)
        runs = [trickle(address) for _ in range(3)]
        result["trickle"] = {
            "limit_bytes": LIMIT, "status": [r["status"] for r in runs],
            "seconds_to_413": statistics.median(r["seconds"] for r in runs),
            "file_bytes_sent": statistics.median(r["file_bytes_sent"] for r in runs),
            "files_stored": stored_files(root / "slow")}
        server.should_exit = True

        image = noise_png(args.mb)
        pdf = b"%PDF-1.7\n" + os.urandom(len(image) - 9)
        big = int(len(image) * 1.1)
        server, address = serve(root / "fast", attachment_max_bytes=big,
                                attachment_ticket_bytes=big)
        for label, name, data, kind in (("png", "noise.png", image, "image/png"),
                                        ("pdf", "doc.pdf", pdf, "application/pdf")):
            times = uploads(address, name, data, kind, args.repeats)
            median = statistics.median(times)
            result[f"upload_{label}"] = {"bytes": len(data), "median_s": median,
                                         "mb_per_s": len(data) / 1e6 / median}
        server.should_exit = True
        inspected = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            inspect(Upload("noise.png", image))
            inspected.append(time.perf_counter() - began)
        result["inspect_png_s"] = statistics.median(inspected)

    trick = result["trickle"]
    print(f"trickle past {LIMIT} bytes: {trick['status']} after {trick['seconds_to_413']:.2f} s,"
          f" {trick['file_bytes_sent']:,} bytes of the file sent, {trick['files_stored']} stored")
    for label in ("png", "pdf"):
        r = result[f"upload_{label}"]
        print(f"upload {label} {r['bytes'] / 1e6:.1f} MB: {r['median_s'] * 1000:.0f} ms "
              f"({r['mb_per_s']:.1f} MB/s)")
    print(f"inspect() of the PNG alone: {result['inspect_png_s'] * 1000:.0f} ms")
    write_result("attachments", result)


if __name__ == "__main__":
    main()
