"""POST /api/v1/events: the widget's self-service events, validated, limited and stored durably."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ..errors import RateLimited, StorageUnavailable
from ..events import EventStore
from ..insights import parse_client_events
from ..security import limiter
from .common import check_origin, client_ip, read_json


class SessionQuota:
    """Events per widget session, counted one by one (a batch of 20 costs 20)."""

    def __init__(self, rate: str) -> None:
        self.item: RateLimitItem = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def spend(self, session: str, cost: int) -> None:
        if cost and not self._limiter.hit(self.item, "events-session", session, cost=cost):
            stats = self._limiter.get_window_stats(self.item, "events-session", session)
            wait = max(1, math.ceil(stats.reset_time - time.time()))
            raise RateLimited(f"This session sent too many events; try again in {wait} seconds",
                              {"retry_after": wait}, headers={"Retry-After": str(wait)})


def _quota(request: Request) -> SessionQuota:
    state = request.app.state
    quota: SessionQuota | None = getattr(state, "events_session_quota", None)
    if quota is None:
        quota = SessionQuota(state.settings.events_session_limit)
        state.events_session_quota = quota
    return quota


async def record(request: Request) -> JSONResponse:
    check_origin(request)
    settings = request.app.state.settings
    limiter(request.app.state, "events", settings.events_rate_limit).hit(client_ip(request))
    session, events = parse_client_events(await read_json(request))
    store: EventStore | None = request.app.state.events
    if store is None:
        raise StorageUnavailable("Events are not being recorded on this server")
    _quota(request).spend(session, len(events))
    # fsync blocks; keep it off the event loop so other requests are not held up.
    accepted = await run_in_threadpool(store.append_many, events)
    return JSONResponse({"accepted": accepted}, status_code=202,
                        headers={"cache-control": "no-store"})


ROUTES: list[BaseRoute] = [Route("/api/v1/events", record, methods=["POST"])]
