"""The demo host page: a pretend shop on another origin that embeds the widget snippet."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from . import resources


def create_host_app(server_url: str) -> Starlette:
    from jinja2 import Environment, FileSystemLoader

    env = Environment(loader=FileSystemLoader(str(resources.TEMPLATES_DIR)), autoescape=True)

    async def page(request: Request) -> HTMLResponse:
        html = env.get_template("demo_host.html").render(server_url=server_url, path=request.url.path)
        return HTMLResponse(html)

    return Starlette(routes=[Route("/", page), Route("/{path:path}", page)])
