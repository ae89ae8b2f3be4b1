"""Per-agent figures: first response, resolution and CSAT for each agent (README "Metrics").

Who a figure counts for, decided once and kept on the ticket when it happens (helpdesk.py):

- first response: the agent who sent the ticket's first reply (`first_reply_by`), over the
  tickets created in range, as the team's first response time is;
- resolution: the agent who solved the ticket, its latest solve (`solved_by`, as `solved_at`
  is the latest solve), over the tickets created in range;
- CSAT: the ratings given in range, each for the agent it was stamped with when the visitor
  rated (`agent_id`: the ticket's assignee then, else the agent who solved it).

Replies sent from the command line and tickets answered before accounts existed carry no
agent and count for nobody here (they still count in the team's figures). `agent_figures`
is the definition, over tickets in Python (the JSON and memory stores); the PostgreSQL
ticket store answers the same in SQL (PostgresTicketStore.agent_rows), and `from_rows` makes
figures of either.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..events import parse_time
from .activity import Ticket, in_range
from .metrics import Durations, durations

# The ticket fields the Python path reads beyond the report's own.
AGENT_FIELDS = ("first_reply_by", "solved_by")
# One row per agent and figure: (figure, agent id, count, median or good ratings, p90).
AgentRow = tuple[str, str, int, float | None, float | None]


@dataclass(frozen=True)
class AgentFigures:
    agent_id: str
    name: str
    first_response: Durations
    resolution: Durations
    ratings: int
    csat: float | None  # ratings of 4 or 5 / ratings

    def as_dict(self) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "name": self.name,
                "first_response": self.first_response.as_dict(),
                "resolution": self.resolution.as_dict(), "ratings": self.ratings,
                "csat": self.csat}


def agent_rows(tickets: Iterable[Ticket], since: datetime, until: datetime) -> list[AgentRow]:
    """The rows of `from_rows` from tickets (created or rated in range, with AGENT_FIELDS)."""
    frt: dict[str, list[float]] = defaultdict(list)
    solved: dict[str, list[float]] = defaultdict(list)
    rated: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for ticket in tickets:
        created = parse_time(ticket["created_at"])
        if since <= created < until:
            if ticket.get("first_reply_at") and ticket.get("first_reply_by"):
                frt[str(ticket["first_reply_by"])].append(
                    (parse_time(ticket["first_reply_at"]) - created).total_seconds())
            if ticket.get("solved_at") and ticket.get("solved_by"):
                solved[str(ticket["solved_by"])].append(
                    (parse_time(ticket["solved_at"]) - created).total_seconds())
        for rating in ticket.get("ratings") or []:
            if rating.get("agent_id") and in_range(parse_time(rating["at"]), since, until):
                counts = rated[str(rating["agent_id"])]
                counts[0] += 1
                counts[1] += int(rating["csat"] >= 4)
    rows: list[AgentRow] = []
    for figure, values in (("first_response", frt), ("resolution", solved)):
        for agent, seconds in values.items():
            d = durations(seconds)
            rows.append((figure, agent, d.count, d.median, d.p90))
    rows += [("csat", agent, n, float(good), None) for agent, (n, good) in rated.items()]
    return rows


def from_rows(rows: Iterable[AgentRow], names: Mapping[str, str]) -> tuple[AgentFigures, ...]:
    """Each agent's figures, by name (then id); an agent the team no longer lists shows by id."""
    none = Durations(0, None, None)
    found: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"first_response": none, "resolution": none, "ratings": 0, "csat": None})
    for figure, agent, count, middle, p90 in rows:
        if figure == "csat":
            found[agent]["ratings"] = count
            found[agent]["csat"] = (middle or 0) / count if count else None
        else:
            found[agent][figure] = Durations(count, middle, p90)
    made = [AgentFigures(agent, names.get(agent, agent), **values)
            for agent, values in found.items()]
    return tuple(sorted(made, key=lambda a: (a.name.casefold(), a.agent_id)))


def agent_figures(tickets: Iterable[Ticket], since: datetime, until: datetime,
                  names: Mapping[str, str]) -> tuple[AgentFigures, ...]:
    return from_rows(agent_rows(tickets, since, until), names)


__all__ = ["AGENT_FIELDS", "AgentFigures", "AgentRow", "agent_figures", "agent_rows",
           "from_rows"]
