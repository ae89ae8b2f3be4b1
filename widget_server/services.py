"""The composition root: every long-lived object the server uses, built once from settings.

`build_services(settings)` opens the stores, loads the search generation, reads the admin
password and signing key and sets up every rate limit, so a bad setting or a damaged store
stops the start with one clear line instead of surfacing on some later request. Nothing is
created lazily inside a route: a route asks `services(request)` for what it needs.

    Services
      settings   the validated Settings
      templates  Jinja2 with the operator's <data_dir>/templates first
      search     SearchService (one search thread; see search/service.py)
      tickets    the TicketStore the `ticket_store` setting names
      events     the EventStore (self-service events)
      searches   SearchRecorder: the searches answered, written behind to `events`
      internal   the agents-only articles of kb_dir (InternalLibrary)
      helpdesk   the ticket use cases over those stores
      notices    the owner's panel banners (NoticeBoard), kept where the tickets are
      limits     every per-IP and per-session rate limit
      admin      the legacy admin password and the key that signs admin cookies
      team       agents, their sessions and the audit log (Team), kept where the tickets are
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, pass_context, select_autoescape
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from . import i18n, resources
from .events import EventStore
from .events.recorder import SearchRecorder
from .helpdesk import Helpdesk
from .internal import InternalLibrary
from .notices import NoticeBoard, open_notice_store
from .search import SearchService, Synonyms, current_generation
from .security import AdminAuth, Limits
from .settings import Settings, SettingsError
from .team import Team, open_team_store
from .team.presence import Presence
from .tickets import TicketStore, open_ticket_store
from .tickets.factory import open_event_store

log = logging.getLogger("deskbell")


@pass_context
def path_for(context: Mapping[str, Any], route: str, /, **params: Any) -> str:
    """The path of the route called `route` (in templates: path_for('kb_article', slug=...)),
    each parameter percent-encoded (a visitor's trail may carry any text as a slug). A path,
    not an absolute URL, so pages stay right behind any proxy."""
    request: Request = context["request"]
    quoted = {name: quote(str(value), safe="/") for name, value in params.items()}
    return str(request.app.url_path_for(route, **quoted))


def make_templates(settings: Settings) -> Jinja2Templates:
    """Jinja2 with autoescaping on; an operator overrides any template by dropping a file of
    the same name into <data_dir>/templates."""
    loader = ChoiceLoader([
        FileSystemLoader(str(settings.data_dir / "templates")),
        FileSystemLoader(str(resources.TEMPLATES_DIR)),
    ])
    env = Environment(loader=loader, autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals["site_name"] = settings.site_name
    env.globals["path_for"] = path_for
    # Pages that set no language (admin, errors) are in English; help-center pages pass
    # their own lang, dir and strings (routes/pages.py).
    env.globals.update(lang="en", dir="ltr", t=i18n.strings("en", settings.strings),
                       languages=[], hreflang=[], home="/kb/", search_locale="")
    # tojson keeps its HTML escaping either way; without \uXXXX escapes a catalog in Arabic
    # is less than half the bytes in the widget's page.
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return Jinja2Templates(env=env)


class ResilientSearch(SearchService):
    """A SearchService that survives an unreadable index generation: search answers 503
    (run deskbell reindex) instead of the server failing to start, and the next good
    generation is picked up as usual."""

    _broken: str | None = None

    def refresh(self, force: bool = False) -> None:
        try:
            super().refresh(force)
        except Exception as exc:  # whatever a damaged Whoosh or catalog file raises
            name = current_generation(self.index_dir)
            if name != self._broken:  # log once per generation, not once per request
                log.error("search index %s/%s is unreadable (%s); run deskbell reindex --full",
                          self.index_dir, name, exc)
                self._broken = name


@dataclass(frozen=True)
class Services:
    settings: Settings
    templates: Jinja2Templates
    search: SearchService
    tickets: TicketStore
    events: EventStore
    helpdesk: Helpdesk
    limits: Limits
    admin: AdminAuth
    notices: NoticeBoard
    searches: SearchRecorder
    internal: InternalLibrary
    team: Team
    presence: Presence = field(default_factory=Presence)  # who views which ticket (per process)

    def close(self) -> None:
        """Let go of everything opened (the server's shutdown): pending searches are written
        first, then the stores' pools are closed."""
        self.searches.close()
        self.search.close()
        self.notices.close()
        self.team.store.close()
        self.events.close()
        self.tickets.close()


def _check_shared_key(settings: Settings) -> None:
    """Nodes that share tickets or limits must share the key that signs reply addresses and the
    admin's known-browser cookies (sessions themselves live in the shared team store), or
    another node refuses them: a key generated into one node's data_dir will not do."""
    shared = (settings.ticket_store not in {"json", "memory"}
              or settings.rate_limit_storage != "memory://")
    if shared and settings.admin_password and not settings.secret_key:
        raise SettingsError("setting secret_key: set the same secret_key on every node when "
                            "tickets or rate limits are shared (reply addresses and admin "
                            "cookies must hold on each node)")


def build_services(settings: Settings) -> Services:
    """Everything the server needs, opened and checked (see the module docstring)."""
    search = ResilientSearch(settings.index_dir, Synonyms.load(settings.synonyms_file or None),
                             semantic=settings.semantic, threshold=settings.answer_threshold,
                             default_locale=settings.default_locale)
    events = open_event_store(settings)
    # Opening checks the store: a corrupt file stops the server with the file and the fix.
    tickets = open_ticket_store(settings)
    notices = NoticeBoard(open_notice_store(settings))

    _check_shared_key(settings)

    def category_of(slug: str) -> str:
        return str(search.live_catalog.get(slug, {}).get("category") or "")

    searches = SearchRecorder(events, settle=settings.search_settle_seconds)
    limits = Limits.from_settings(settings)
    admin = AdminAuth.from_settings(settings)
    team = Team(open_team_store(settings), settings, limits, admin.password, admin.key)
    team.prune()
    return Services(
        settings=settings,
        templates=make_templates(settings),
        search=search,
        tickets=tickets,
        events=events,
        helpdesk=Helpdesk(tickets, settings, events, category_of, searches),
        limits=limits,
        admin=admin,
        notices=notices,
        searches=searches,
        internal=InternalLibrary(Path(settings.kb_dir)),
        team=team,
    )


def services(request: Request) -> Services:
    """The app's Services, for a route."""
    built: Services = request.app.state.services
    return built


__all__ = ["ResilientSearch", "Services", "build_services", "make_templates", "services"]
