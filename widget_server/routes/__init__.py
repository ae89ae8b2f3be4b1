"""Every URL Deskbell serves, listed in one place."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .. import openapi
from . import (
    admin,
    api,
    assignment,
    attachments,
    discovery,
    events,
    insights,
    pages,
    team,
    tickets,
    widget,
)


def all_routes() -> list[BaseRoute]:
    return [*api.ROUTES, *pages.ROUTES, *widget.ROUTES, *tickets.ROUTES, *attachments.ROUTES,
            *admin.ROUTES, *assignment.ROUTES, *team.ROUTES, *events.ROUTES, *insights.ROUTES,
            *openapi.ROUTES, *discovery.ROUTES]
