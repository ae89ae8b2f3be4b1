"""POST /api/v1/events: the widget's self-service events, validated, limited and stored durably."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ..events import parse_client_events
from ..services import services
from .common import check_origin, client_ip, read_json


async def record(request: Request) -> JSONResponse:
    check_origin(request)
    limits = services(request).limits
    limits.events.hit(client_ip(request))
    session, events = parse_client_events(await read_json(request))
    limits.event_sessions.hit(session, cost=len(events))
    services(request).searches.settle(session)  # the visitor moved on from typing
    store = services(request).events
    # fsync blocks; keep it off the event loop so other requests are not held up.
    accepted = await run_in_threadpool(store.append_many, events)
    return JSONResponse({"accepted": accepted}, status_code=202,
                        headers={"cache-control": "no-store"})


ROUTES: list[BaseRoute] = [Route("/api/v1/events", record, methods=["POST"])]
