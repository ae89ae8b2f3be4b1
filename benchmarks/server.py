"""The benchmark server: Deskbell's app from the environment plus one fixed-JSON route.

`GET /bench/fixed` returns a constant JSON body through the same Starlette app, middleware and
uvicorn process as the API, so it measures the framework's ceiling on this machine.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from widget_server.app import app_from_env

FIXED = {"query": "fixed", "total": 1, "results": [{"slug": "fixed", "title": "Fixed"}]}


async def fixed(request: Request) -> JSONResponse:
    return JSONResponse(FIXED, headers={"cache-control": "no-store"})


def app() -> Starlette:
    application = app_from_env()
    application.router.routes.insert(0, Route("/bench/fixed", fixed, methods=["GET"]))
    return application
