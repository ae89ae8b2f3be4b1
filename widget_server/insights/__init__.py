"""Insight out of events and tickets: metrics, content gaps, spikes, as one typed report.

    activity.py  Activity: the events of a range grouped by session and every search query
                 grouped by meaning, each exactly once per report
    metrics.py   sessions, self-service, ticket volume, response times, satisfaction, articles
    gaps.py      what to write next: failed searches, searches ending in tickets, bad articles
    drafts.py    the gaps worth an article, each as a markdown draft (redacted, escaped)
    spikes.py    topics far above their own baseline
    report.py    Report (frozen dataclasses) and load_report, the one loader behind
                 /admin/insights and `deskbell report`; to_jsonable, format_rate/_duration
    webhook.py   post_webhook for spike alerts, refusing private targets

Events come from widget_server.events (their vocabulary and the store); tickets from the ticket
store. Nothing here writes.
"""

from __future__ import annotations

from .activity import Activity, Event, QueryGroups, Ticket, event_time, in_range
from .drafts import (
    Draft,
    GapQuery,
    TopGap,
    draft_article,
    draft_articles,
    escape_markdown,
    redact,
    top_gaps,
)
from .gaps import (
    ArticleGap,
    Gaps,
    TicketQueryGap,
    ZeroResultGap,
    article_gaps,
    content_gaps,
    ticket_query_gaps,
    zero_result_gaps,
)
from .metrics import (
    ArticleStats,
    Count,
    DayCount,
    DayRate,
    Durations,
    ResponseTimes,
    Satisfaction,
    SessionFigures,
    TicketVolume,
    article_stats,
    daily_self_service,
    days_between,
    local_midnight,
    nearest_rank,
    response_times,
    satisfaction,
    session_summary,
    ticket_volume,
    top_searches,
)
from .report import (
    Report,
    build_report,
    day_range,
    format_duration,
    format_rate,
    load_report,
    report_span,
    to_jsonable,
)
from .spikes import Spike, Spikes, find_spikes, poisson_tail, report_spikes, spike_topics
from .webhook import WebhookRefused, post_webhook, vet_address

__all__ = [
    "Activity", "ArticleGap", "ArticleStats", "Count", "DayCount", "DayRate", "Draft", "Durations",
    "Event", "GapQuery", "Gaps", "QueryGroups", "Report", "ResponseTimes", "Satisfaction",
    "SessionFigures", "Spike", "Spikes", "Ticket", "TicketQueryGap", "TicketVolume", "TopGap",
    "WebhookRefused", "ZeroResultGap", "article_gaps", "article_stats", "build_report",
    "content_gaps", "daily_self_service", "day_range", "days_between", "draft_article",
    "draft_articles", "escape_markdown", "event_time", "find_spikes", "format_duration",
    "format_rate", "in_range", "load_report", "local_midnight", "nearest_rank", "poisson_tail",
    "post_webhook", "redact", "report_span", "report_spikes", "response_times", "satisfaction",
    "session_summary", "spike_topics", "ticket_query_gaps", "ticket_volume", "to_jsonable",
    "top_gaps", "top_searches", "vet_address", "zero_result_gaps",
]
