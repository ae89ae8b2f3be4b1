"""The demo host page: a pretend shop on another origin that embeds the widget snippet.

Query parameters let a newcomer try the options without editing anything:
`?mode=ask-first&locale=ar&color=%230b7d32`.
"""

from __future__ import annotations

import re
import secrets

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from . import csp, resources
from .routes.widget import LOCALES, MODES

_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}")


def create_host_app(server_url: str) -> Starlette:
    env = Environment(loader=FileSystemLoader(str(resources.TEMPLATES_DIR)),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.get_template("demo_host.html")

    async def page(request: Request) -> HTMLResponse:
        params = request.query_params
        mode = params.get("mode", "self-service")
        locale = params.get("locale", "")
        color = params.get("color", "#1f5fbf")
        nonce = secrets.token_urlsafe(16)
        html = template.render(
            widget_url=f"{server_url}/widget.js", site="default",
            mode=mode if mode in MODES else "self-service",
            locale=locale if locale in LOCALES else "",
            color=color if _COLOR.fullmatch(color) else "#1f5fbf",
            csp_nonce=nonce,
        )
        policy = csp.demo_host(nonce, server_url)
        return HTMLResponse(html, headers={"content-security-policy": policy})

    return Starlette(routes=[Route("/", page), Route("/{path:path}", page)])
