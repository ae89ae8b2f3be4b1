"""Moved to widget_server.insights (metrics.py there, returning typed figures).

Only `satisfaction`, as the plain dict it used to return, is left here, for callers not yet
moved (tests/browser/test_contact.py). New code: `from widget_server.insights import ...`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .insights import Ticket, to_jsonable
from .insights import satisfaction as _satisfaction


def satisfaction(tickets: Iterable[Ticket], since: datetime, until: datetime) -> dict[str, Any]:
    """CSAT, CES and NPS over ratings given in range, as a dict (see insights.satisfaction)."""
    figures: dict[str, Any] = to_jsonable(_satisfaction(tickets, since, until))
    return figures


__all__ = ["satisfaction"]
