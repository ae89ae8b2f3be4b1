"""Files on the wire: multipart messages read as they stream in, and stored files served back.

Upload shape (the OpenAPI spec says the same): `POST /api/v1/tickets` and
`POST /api/v1/tickets/{reference}/messages` take either their JSON body, as always, or
`multipart/form-data` with one part `json` (that same JSON object as text) and up to
`attachment_max_files` parts `files`; the admin's reply form posts its fields and `files`.
A part's name and declared type are never trusted: attachments.inspect judges the bytes.

Limits hold while the body streams: a file passing `attachment_max_bytes` ends the request
with 413 at that byte (not when the body ends), as does a message with more files than allowed;
the body as a whole is capped by the BodyLimitMiddleware (upload_limit()). Nothing is stored
until the whole message has arrived and every file passed, so a cut or refused upload leaves
nothing behind.

Serving: `GET /api/v1/tickets/{reference}/attachments/{id}` for the visitor the ticket routes
authorise (tickets._authorized; files of internal notes are never theirs) and
`GET /admin/tickets/{reference}/attachments/{id}` for a logged-in agent. Every miss (no such
ticket, no such file, a file of another ticket) is the same 404. Responses carry the stored
type only, `nosniff`, a sandboxing CSP and a download disposition (attachments.serve_headers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..attachments import Descriptor, Upload, clean_name, find, serve_headers
from ..errors import BadRequest, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from ..security import csrf_matches
from ..services import services
from ..settings import Settings
from ..team import REPLY, AdminSession
from .auth import admin_page, require, session_of
from .common import client_ip, json_object, read_json

FIELDS_MAX = 64 * 1024  # all text parts of one message together
PART_OVERHEAD = 4096  # a part's boundary and headers, counted in the body cap
MISSING = "No such attachment"
UPLOAD_PATHS = r"^/(api/v1/tickets(/[^/]+/messages)?|admin/tickets/[^/]+/(reply|compose))$"
Fields = dict[str, str]


def upload_limit(settings: Settings) -> int:
    """The largest body an upload route accepts: every file at its largest, plus the text."""
    files = settings.attachment_max_files
    return int(files * (settings.attachment_max_bytes + PART_OVERHEAD) + settings.max_body_bytes)


def _cut(message: str) -> PayloadTooLarge:
    # The client may still be sending: close the connection rather than read the rest.
    return PayloadTooLarge(message, headers={"connection": "close"})


class _Parts:
    """The callbacks of one multipart body, holding each limit as bytes arrive."""

    def __init__(self, settings: Settings) -> None:
        self.file_bytes = settings.attachment_max_bytes
        self.max_files = settings.attachment_max_files
        self.fields: Fields = {}
        self.files: list[Upload] = []
        self.field_bytes = 0
        self.complete = False
        self._header_name = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._filename: str | None = None
        self._data = bytearray()

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_part_begin": self.begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_headers_finished": self.headers_done,
                "on_header_end": self.header_end, "on_part_data": self.data,
                "on_part_end": self.end, "on_end": self.done}

    def begin(self) -> None:
        self._headers, self._header_name, self._data = {}, b"", bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        name = self._header_name.lower()
        self._headers[name] = self._headers.get(name, b"") + data[start:end]

    def header_end(self) -> None:
        self._header_name = b""

    def headers_done(self) -> None:
        self._header_name = b""
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        raw = options.get(b"filename")
        self._filename = raw.decode("utf-8", "replace") if raw is not None else None
        if self._filename is not None:
            if len(self.files) >= self.max_files:
                raise ValidationFailed(f"a message may carry at most {self.max_files} file(s)",
                                       {"files": f"at most {self.max_files}"},
                                       headers={"connection": "close"})

    def data(self, data: bytes, start: int, end: int) -> None:
        self._data += data[start:end]
        if self._filename is not None:
            if len(self._data) > self.file_bytes:
                raise _cut(f"{clean_name(self._filename)} is larger than {self.file_bytes} "
                           "bytes, the most a file may have")
        else:
            self.field_bytes += end - start
            if self.field_bytes > FIELDS_MAX:
                raise _cut(f"The message's text is larger than {FIELDS_MAX} bytes")

    def end(self) -> None:
        if self._filename is not None:
            if self._name == "files" and (self._filename or self._data):
                self.files.append(Upload(self._filename, bytes(self._data)))
        elif self._name:
            try:
                self.fields.setdefault(self._name, self._data.decode("utf-8"))
            except UnicodeDecodeError:
                raise BadRequest(f"The form field {self._name} is not valid UTF-8") from None
        self._data = bytearray()

    def done(self) -> None:
        self.complete = True


async def read_multipart(request: Request) -> tuple[Fields, list[Upload]]:
    """The text fields and the files of a multipart/form-data body, limits held as it streams."""
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadRequest("multipart/form-data needs a boundary")
    parts = _Parts(services(request).settings)
    parser = MultipartParser(boundary, parts.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:  # our own refusals pass through untouched
        raise BadRequest(f"The multipart body cannot be read ({exc}); nothing was saved",
                         headers={"connection": "close"}) from None
    if not parts.complete:  # no closing boundary: the body was cut short
        raise BadRequest("The upload ended before its closing boundary; nothing was saved")
    return parts.fields, parts.files


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_message(request: Request) -> tuple[dict[str, Any], list[Upload]]:
    """A ticket or message body and its files: JSON alone, or multipart with a `json` part."""
    if _media_type(request) != "multipart/form-data":
        return await read_json(request), []
    fields, files = await read_multipart(request)
    if "json" not in fields:
        raise BadRequest("Send the message as a part named json beside the files")
    return json_object(fields["json"], "The json part"), files


async def read_form(request: Request) -> tuple[Fields, list[Upload]]:
    """An admin form's fields and files, whichever encoding the browser chose."""
    if _media_type(request) == "multipart/form-data":
        return await read_multipart(request)
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}, []


UploadHandler = Callable[[Request, AdminSession, Mapping[str, str], list[Upload]],
                         Awaitable[Response]]


def admin_upload(handler: UploadHandler) -> Callable[[Request], Awaitable[Response]]:
    """As auth.admin_form(REPLY) (403 without a session, with a role that may not reply, or
    without a matching CSRF token), for a form that may carry files: the session and its role
    are checked before a byte of the body is read."""
    @wraps(handler)
    async def guarded(request: Request) -> Response:
        session = await session_of(request)
        if session is None:
            raise Forbidden("Log in to the admin first")
        require(session, REPLY)
        fields, files = await read_form(request)
        if not csrf_matches(session.csrf, fields.get("csrf")):
            raise Forbidden("The form expired or did not come from this admin; reload and retry")
        return await handler(request, session, fields, files)
    return guarded


# ---------------------------------------------------------------- serving


def shown_files(reference: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """A message's files as the visitor's API lists them: no digest, a download path."""
    return [{"id": d["id"], "name": d["name"], "type": d["type"], "size": d["size"],
             "url": f"/api/v1/tickets/{reference}/attachments/{d['id']}"}
            for d in entry.get("attachments") or []]


async def _serve(request: Request, descriptor: Descriptor | None) -> Response:
    if descriptor is None:
        raise NotFound(MISSING)
    from .tickets import in_store  # tickets imports this module to read uploads

    data = await in_store(services(request).helpdesk.attachments.read, descriptor)
    return Response(data, headers=serve_headers(descriptor))


async def visitor_file(request: Request) -> Response:
    from .tickets import _authorized

    try:
        ticket = await _authorized(request)
    except NotFound:
        raise NotFound(MISSING) from None
    found = find(ticket, request.path_params["id"], authors=("visitor", "agent"))
    if found is None:
        services(request).limits.ticket_lookup.hit(client_ip(request))  # a guess, counted
    return await _serve(request, found)


@admin_page
async def admin_file(request: Request, session: AdminSession) -> Response:
    from .tickets import in_store

    ticket = await in_store(services(request).tickets.get, request.path_params["reference"])
    found = find(ticket, request.path_params["id"]) if ticket is not None else None
    return await _serve(request, found)


ROUTES = [
    Route("/api/v1/tickets/{reference}/attachments/{id}", visitor_file, methods=["GET"],
          name="ticket_attachment"),
    Route("/admin/tickets/{reference}/attachments/{id}", admin_file, methods=["GET"],
          name="admin_attachment"),
]

__all__ = ["ROUTES", "UPLOAD_PATHS", "admin_upload", "read_form", "read_message",
           "shown_files", "upload_limit"]
