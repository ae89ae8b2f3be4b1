"""The OpenAPI 3.1 description of Deskbell's public JSON API, served at /openapi.json.

Request bodies come from their declarations (schemas.py, and the event registry in
events/ for the widget's events), the same objects that validate them;
paths and answers are written here as data. A schemathesis run in the test suite fuzzes
every operation against the real app and checks each answer against this spec.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import schemas
from .events.client import client_events_openapi

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {400: "Malformed request", 401: "Missing token", 403: "Origin not allowed",
             404: "Not found", 409: "Not possible in the current state", 413: "Body too large",
             415: "Body is not JSON", 422: "A field is invalid", 429: "Rate limited",
             503: "Storage or search index unavailable", 507: "Disk full"}
    return {str(s): _json({"$ref": "#/components/schemas/Error"}, words[s]) for s in statuses}


def _body(body: schemas.Body) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": body.schema()}}}


def _with_files(body: schemas.Body) -> dict[str, Any]:
    """The JSON body, or the same object as a multipart part `json` beside files `files`
    (attachments.py: types judged by their bytes; limits attachment_max_bytes/_files)."""
    return {"required": True, "content": {
        "application/json": {"schema": body.schema()},
        "multipart/form-data": {
            "schema": {"type": "object", "required": ["json"], "properties": {
                "json": {**body.schema(),
                         "description": "The application/json form's body, as a JSON part"},
                # The schema admits plain text only, a subset every server accepts (no test
                # client can generate valid images); the description says what else is.
                "files": {"type": "array", "maxItems": 5, "items": {
                    "type": "string", "minLength": 1, "maxLength": 1000,
                    "pattern": "^[A-Za-z0-9 .,]+$"},
                    "description": "Up to attachment_max_files (5) files: PNG, JPEG, GIF or "
                                   "WebP images (re-encoded), PDF or UTF-8 text, judged by "
                                   "their bytes; anything else is 415, an empty file 422, a "
                                   "file or ticket over its limit 413"}}},
            "encoding": {"json": {"contentType": "application/json"}}}}}


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _path(name: str, pattern: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "schema": schema}


BEARER: list[dict[str, list[str]]] = [{"ticketToken": []}, {"signedIdentity": []}]
STR = {"type": "string"}
BRIEF = {
    "type": "object",
    "required": ["slug", "title", "url", "summary", "category"],
    "properties": {k: STR for k in ("slug", "title", "url", "summary", "category")},
}
NOTICE = {  # notices/model.py Notice.for_panel; null when no notice is showing
    "type": ["object", "null"],
    "required": ["id", "text", "until", "article"],
    "properties": {
        "id": STR, "text": STR, "until": {"type": "string", "format": "date-time"},
        "article": {"type": ["object", "null"], "required": ["slug", "url"],
                    "properties": {"slug": STR, "url": STR}},
    },
}
HIT = {
    "type": "object",
    "required": ["slug", "title", "url", "snippet", "category", "summary", "score", "locale",
                 "translation"],
    "properties": {**{k: STR for k in ("slug", "title", "url", "snippet", "category", "summary",
                                       "locale")},
                   "score": {"type": "number"},
                   # In a fallback: the hit's translation into the visitor's locale, if any.
                   "translation": {"type": ["string", "null"]}},
}
ANSWER = {
    "type": "object", "required": ["slug", "title", "heading", "anchor", "html", "confidence"],
    "properties": {**{k: STR for k in ("slug", "title", "heading", "anchor", "html")},
                   "confidence": {"type": "number", "minimum": 0, "maximum": 1}},
}


FILE = {"type": "object", "required": ["id", "name", "type", "size", "url"],
        "properties": {"id": STR, "name": STR, "size": {"type": "integer"}, "url": STR,
                       "type": {"enum": ["image/png", "image/jpeg", "image/webp",
                                         "application/pdf", "text/plain"]}}}
THREAD_ENTRY = {
    "type": "object",
    "required": ["author", "author_name", "body", "at"],
    "properties": {"author": {"enum": ["visitor", "agent"]}, "author_name": STR, "body": STR,
                   "at": STR, "attachments": {"type": "array", "items": FILE}},
}
STATUS = {"enum": ["new", "open", "pending", "solved", "closed"]}
BACKING = {"type": "object", "required": ["kind", "up", "latency_ms"],
           "properties": {"kind": STR, "up": {"type": "boolean"},
                          "latency_ms": {"type": "number", "minimum": 0}}}
HEALTH = {
    "type": "object", "required": ["status", "articles", "index_generation", "services"],
    "properties": {"status": {"enum": ["ok", "degraded"]}, "articles": {"type": "integer"},
                   "index_generation": {"type": ["string", "null"]},
                   "services": {"type": "object", "required": ["tickets", "events", "rate_limits"],
                                "additionalProperties": BACKING}},
}

PATHS: dict[str, Any] = {
    "/api/v1/search": {"get": {
        "summary": "Search the knowledge base (built for a box that updates as you type)",
        "parameters": [
            _query("q", {"type": "string", "maxLength": 200}),
            _query("limit", {"type": "integer", "minimum": 1, "maximum": 20}),
            _query("locale", {"type": "string", "maxLength": 20}),
            _query("instant", {"type": "string", "enum": ["0", "1", "true", "false"]}),
            _query("session", {"type": "string", "pattern": "^s_[A-Za-z0-9_-]{22}$"}),
        ],
        "responses": {"200": _json({
            "type": "object", "required": ["query", "total", "confidence", "answer", "locale",
                                           "fallback", "results"],
            "properties": {"query": STR, "total": {"type": "integer", "minimum": 0},
                           "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                           "answer": {"oneOf": [{"type": "null"}, ANSWER]},
                           "locale": {"type": ["string", "null"]},
                           "fallback": {"type": "boolean"},
                           "results": {"type": "array", "items": HIT}},
        }, "Ranked hits, and the quoted answer when search is confident (null otherwise); "
           "instant=1 (a keystroke) ranks by words only and never answers. The search runs in "
           "`locale` (none: the site's default_locale); when that finds nothing, or the "
           "knowledge base has no article in it, the default locale's articles answer and "
           "`fallback` is true. `locale` says which locale the hits are in, each hit its own "
           "`locale`, and `translation` the slug of its translation into the visitor's locale "
           "(null when there is none). The server records "
           "the search for the insights with its true count; pass the visitor's help session "
           "so a query typed letter by letter counts once (previews without one are not "
           "recorded)"),
            **_errors(400, 429, 503)},
    }},
    "/api/v1/suggestions": {"get": {
        "summary": "Articles for the page the visitor is on",
        "parameters": [_query("url", {"type": "string", "maxLength": 2000}),
                       _query("limit", {"type": "integer", "minimum": 1, "maximum": 20}),
                       _query("locale", {"type": "string", "maxLength": 20})],
        "responses": {"200": _json({
            "type": "object", "required": ["url", "results"],
            "properties": {"url": STR, "results": {"type": "array", "items": BRIEF},
                           "notice": NOTICE},
        }, "Articles whose urls patterns match, then fallbacks; and the owner's current "
           "notice (plain text, in `locale` when written in it), or null"),
            **_errors(400, 429, 503)},
    }},
    "/api/v1/articles/{slug}": {"get": {
        "summary": "One article as sanitized HTML with its metadata",
        "parameters": [_path("slug")],
        "responses": {"200": _json({
            "type": "object",
            "required": ["slug", "title", "summary", "category", "tags", "url", "html", "related"],
            "properties": {
                **{k: STR for k in ("slug", "title", "summary", "category", "locale", "url",
                                    "html", "updated", "redirect_to")},
                "tags": {"type": "array", "items": STR},
                "related": {"type": "array", "items": BRIEF},
            },
        }, "The article; redirect_to is set when the slug was an alias"),
            **_errors(404, 429, 503)},
    }},
    "/api/v1/articles/{slug}/feedback": {"post": {
        "summary": "Was this article helpful?",
        "parameters": [_path("slug")],
        "requestBody": _body(schemas.FEEDBACK),
        "responses": {"202": _json({"type": "object", "required": ["recorded"],
                                    "properties": {"recorded": {"type": "boolean"}}}, "Recorded"),
                      **_errors(400, 403, 404, 413, 415, 422, 429, 503)},
    }},
    "/api/v1/events": {"post": {
        "summary": "Self-service events from the widget (no personal data)",
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": client_events_openapi()}}},
        "responses": {"202": _json({"type": "object", "required": ["accepted"],
                                    "properties": {"accepted": {"type": "integer"}}}, "Stored"),
                      **_errors(400, 403, 413, 415, 422, 429, 503, 507)},
    }},
    "/api/v1/tickets": {"post": {
        "summary": "Open a ticket, with files if any; the answer carries a secret token shown "
                   "only once",
        "requestBody": _with_files(schemas.NEW_TICKET),
        "responses": {"201": _json({
            "type": "object", "required": ["reference", "token", "status", "created_at"],
            "properties": {"reference": STR, "token": STR, "status": STATUS, "created_at": STR},
        }, "Created"), **_errors(400, 403, 413, 415, 422, 429, 503, 507)},
    }},
    "/api/v1/identity/tickets": {"post": {
        "summary": "A signed visitor's own tickets, newest first (no token: the site signed "
                   "who they are); a claim that does not verify gets verified false and none",
        "requestBody": _body(schemas.IDENTITY),
        "responses": {"200": _json({
            "type": "object", "required": ["verified", "tickets"],
            "properties": {"verified": {"type": "boolean"}, "tickets": {"type": "array", "items": {
                "type": "object", "properties": {k: STR for k in (
                    "reference", "subject", "created_at", "updated_at")} | {"status": STATUS}}}},
        }, "The visitor's tickets"), **_errors(400, 403, 413, 415, 422, 429, 503)},
    }},
    "/api/v1/tickets/{reference}": {"get": {
        "summary": "A ticket's status and public thread",
        "security": BEARER,
        "parameters": [_path("reference")],
        "responses": {"200": _json({
            "type": "object",
            "required": ["reference", "subject", "status", "created_at", "thread", "can_rate"],
            "properties": {"reference": STR, "subject": STR, "status": STATUS,
                           "created_at": STR, "updated_at": STR,
                           "thread": {"type": "array", "items": THREAD_ENTRY},
                           "can_rate": {"type": "boolean"},
                           "rating": {"type": ["object", "null"]}},
        }, "The ticket"), **_errors(401, 404, 429, 503)},
    }},
    "/api/v1/tickets/{reference}/messages": {"post": {
        "summary": "The visitor adds a message, with files if any",
        "security": BEARER,
        "parameters": [_path("reference")],
        "requestBody": _with_files(schemas.MESSAGE),
        "responses": {"201": _json(THREAD_ENTRY, "Added"),
                      **_errors(400, 401, 403, 404, 413, 415, 422, 429, 503, 507)},
    }},
    "/api/v1/tickets/{reference}/attachments/{id}": {"get": {
        "summary": "One file of the ticket's thread, as a download (stored type, nosniff, a "
                   "sandbox CSP); every miss is the same 404",
        "security": BEARER,
        "parameters": [_path("reference"), _path("id")],
        "responses": {"200": {"description": "The stored bytes", "content": {
            kind: {"schema": {"type": "string", "format": "binary"}} for kind in (
                "image/png", "image/jpeg", "image/webp", "application/pdf", "text/plain")}},
            **_errors(401, 404, 429, 503)},
    }},
    "/api/v1/tickets/{reference}/rating": {"post": {
        "summary": "Rate a solved ticket: CSAT 1-5, optional CES 1-7 (once per resolution)",
        "security": BEARER,
        "parameters": [_path("reference")],
        "requestBody": _body(schemas.RATING),
        "responses": {"201": _json({"type": "object"}, "Recorded"),
                      **_errors(400, 401, 403, 404, 409, 413, 415, 422, 429, 503, 507)},
    }},
    "/healthz": {"get": {
        "summary": "Liveness, the search generation, and each backing service (up, latency)",
        "responses": {"200": _json(HEALTH, "Serving"),
                      "503": _json(HEALTH, "The ticket store is unreachable (search still "
                                           "serves); `services` says which part is down")},
    }},
}


def spec() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Deskbell", "version": "1",
                 "description": "Public JSON API of a Deskbell help widget server."},
        "paths": PATHS,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "ticketToken": {"type": "http", "scheme": "bearer",
                                "description": "The token returned at creation"},
                "signedIdentity": {"type": "http", "scheme": "identity",
                                   "description": "Authorization: Identity <base64url of the "
                                                  "JSON claim {email, user_id, signature}>; "
                                                  "opens the tickets the visitor owns"}},
        },
    }


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(spec())


ROUTES = [Route("/openapi.json", openapi_json, methods=["GET"])]
