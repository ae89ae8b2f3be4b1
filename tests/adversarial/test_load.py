"""Load through real uvicorn with 4 worker processes: 500 visitors open tickets at once while
others keep searching. Every ticket is stored exactly once; search keeps answering."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from benchmarks.common import run_in_own_loop
from widget_server.tickets import JSONTicketStore

from .conftest import GOOD_TICKET

TICKETS = 500


async def _burst(url: str) -> tuple[list[httpx.Response], list[int]]:
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        searching = True

        async def search_meanwhile() -> list[int]:
            statuses = []
            while searching or not statuses:
                answer = await http.get("/api/v1/search", params={"q": "password"})
                statuses.append(answer.status_code)
            return statuses

        searches = asyncio.create_task(search_meanwhile())
        creates = [http.post("/api/v1/tickets", json={**GOOD_TICKET, "subject": f"load {n}"})
                   for n in range(TICKETS)]
        answers = await asyncio.gather(*creates)
        searching = False
        return answers, await searches


def test_five_hundred_concurrent_tickets_across_four_workers(live, settings) -> None:  # type: ignore[no-untyped-def]
    server = live(workers=4)
    answers, search_statuses = run_in_own_loop(_burst(server.url))
    assert [a.status_code for a in answers] == [201] * TICKETS
    references = [a.json()["reference"] for a in answers]
    assert len(set(references)) == TICKETS
    store = JSONTicketStore(Path(settings.data_dir))
    stored = [t for t in store.iter_tickets()]
    assert len(stored) == TICKETS
    assert {t["reference"] for t in stored} == set(references)
    assert sorted(t["subject"] for t in stored) == sorted(f"load {n}" for n in range(TICKETS))
    assert search_statuses and set(search_statuses) == {200}
