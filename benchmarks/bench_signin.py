"""Signing in to the admin: what argon2id costs, through HTTP against a real server.

Run:  .venv/bin/python benchmarks/bench_signin.py [--repeats 15]

`deskbell serve` (one worker, JSON store, words-only search over the test knowledge base) in
its own process, with one owner account. Each sign-in is the browser's two requests on one
keep-alive connection: GET /admin/login (the form and its CSRF cookie), then POST /admin/login
with name and password, answered 303 with the session cookie; each comes from its own
X-Forwarded-For address (uvicorn trusts it from 127.0.0.1), so the per-address limit of 10
sign-ins per 15 minutes is not what is measured. Also a wrong password (401), which must cost
the same.

Baselines in the same run: an authenticated page load (GET /admin/account with the session,
which looks the session up in the store), and in process the password check itself: argon2id
at the shipped parameters against the scrypt check of the single admin password that came
before (security.AdminPassword, n=2^14). Prints medians and writes
benchmarks/results/signin.json.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from benchmarks.common import REPO, live_server, write_result  # noqa: E402
from widget_server.security import AdminPassword  # noqa: E402
from widget_server.settings import load_settings  # noqa: E402
from widget_server.team import (  # noqa: E402
    OWNER,
    Actor,
    JSONTeamStore,
    Team,
    passwords,  # noqa: E402
)

PASSWORD = "a long enough owner password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def sign_in(base: str, n: int, password: str) -> tuple[float, int, str]:
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False,
                      headers={"x-forwarded-for": f"198.51.100.{n % 250 + 1}"}) as client:
        client.get("/healthz")  # the connection is open before the clock starts
        start = time.perf_counter()
        page = client.get("/admin/login")
        token = CSRF.search(page.text)
        assert token, page.text[:300]
        answer = client.post("/admin/login", data={"csrf": token[1], "name": "ana",
                                                   "password": password, "next": "/admin/"})
        took = time.perf_counter() - start
        return took, answer.status_code, client.cookies.get("deskbell_admin") or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskbell-signin-") as tmp:
        data = Path(tmp) / "data"
        settings = load_settings(overrides={"data_dir": str(data)}, config_file=None,
                                 environ={})
        Team(JSONTeamStore(data), settings).add_agent("ana", "Ana", OWNER, PASSWORD,
                                                      Actor.cli())
        values = {"data_dir": str(data), "kb_dir": str(REPO / "tests" / "data" / "kb"),
                  "semantic": "false"}
        with live_server(values) as server:
            base = f"http://127.0.0.1:{server.port}"
            good, bad, pages = [], [], []
            cookie = ""
            for i in range(args.repeats + 1):
                took, status, cookie = sign_in(base, i, PASSWORD)
                assert status == 303, status
                if i:  # the first one warms the server up
                    good.append(took)
            for i in range(args.repeats):
                took, status, _ = sign_in(base, 1000 + i, "wrong " + PASSWORD)
                assert status == 401, status
                bad.append(took)
            with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
                client.cookies.set("deskbell_admin", cookie)
                assert client.get("/admin/account").status_code == 200
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    assert client.get("/admin/account").status_code == 200
                    pages.append(time.perf_counter() - start)
    stored = passwords.hash_password(PASSWORD)
    old = AdminPassword(PASSWORD)
    argon, scrypt = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        assert passwords.verify_password(stored, PASSWORD)
        argon.append(time.perf_counter() - start)
        start = time.perf_counter()
        assert old.verify(PASSWORD)
        scrypt.append(time.perf_counter() - start)
    params = passwords.HASHER
    result = {
        "argon2id": {"memory_kib": params.memory_cost, "time_cost": params.time_cost,
                     "parallelism": params.parallelism},
        "repeats": args.repeats, "load_average": os.getloadavg()[0],
        "signin_ms": {"median": ms(statistics.median(good)), "min": ms(min(good)),
                      "max": ms(max(good))},
        "wrong_password_ms": {"median": ms(statistics.median(bad))},
        "authenticated_page_ms": {"median": ms(statistics.median(pages))},
        "argon2id_verify_ms": {"median": ms(statistics.median(argon))},
        "scrypt_admin_password_verify_ms": {"median": ms(statistics.median(scrypt))},
    }
    print(f"argon2id m={params.memory_cost} KiB t={params.time_cost} p={params.parallelism}, "
          f"{args.repeats} repeats, load {result['load_average']:.1f}")
    print(f"sign-in through HTTP (form + post), median  {result['signin_ms']['median']} ms "
          f"({result['signin_ms']['min']}–{result['signin_ms']['max']})")
    print(f"wrong password, median                     {result['wrong_password_ms']['median']} ms")
    print(f"authenticated page load, median            "
          f"{result['authenticated_page_ms']['median']} ms")
    print(f"argon2id verify in process, median         "
          f"{result['argon2id_verify_ms']['median']} ms")
    print(f"old scrypt admin_password verify, median   "
          f"{result['scrypt_admin_password_verify_ms']['median']} ms")
    write_result("signin", result)


if __name__ == "__main__":
    main()
