"""ASGI middleware: security headers on every response, and a request body cap.

The body cap refuses a declared Content-Length over the limit before reading anything, and
stops a chunked body as soon as it passes the limit, so no oversized body is held in memory.
Multipart posts to the upload routes (`uploads`: their path pattern and cap) get the larger
cap their files need; every other request keeps max_bytes.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import csp


class SecurityHeadersMiddleware:
    """Adds CSP and friends unless the route set its own (the /embed route sets frame-ancestors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                defaults = {
                    b"content-security-policy": csp.PAGES.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"referrer-policy": b"strict-origin-when-cross-origin",
                    b"x-frame-options": b"DENY",
                    b"cross-origin-opener-policy": b"same-origin",
                }
                for name, value in defaults.items():
                    if name == b"x-frame-options" and b"content-security-policy" in names:
                        continue  # a route with its own CSP decides framing via frame-ancestors
                    if name not in names:
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


MAX_HEADER_BYTES = 32 * 1024


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int,
                 uploads: tuple[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = (re.compile(uploads[0]), uploads[1]) if uploads else None

    def _limit(self, scope: Scope) -> int:
        if self.uploads and scope.get("method") == "POST" and self.uploads[0].match(
                scope["path"]):
            kind = dict(scope.get("headers", [])).get(b"content-type", b"")
            if kind.split(b";")[0].strip().lower() == b"multipart/form-data":
                return self.uploads[1]
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # uvicorn's httptools parser has no header cap; refuse before any route sees them.
        if sum(len(n) + len(v) for n, v in scope.get("headers", [])) > MAX_HEADER_BYTES:
            await self._refuse(scope, send, 431, "headers_too_large",
                               f"Request headers are larger than {MAX_HEADER_BYTES} bytes")
            return
        limit = self._limit(scope)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(scope, send, 400, "bad_request", "Invalid Content-Length")
                    return
                if declared > limit:
                    await self._refuse(scope, send, 413, "payload_too_large", self._message(limit))
                    return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(scope, send, 413, "payload_too_large", self._message(limit))

    @staticmethod
    def _message(limit: int) -> str:
        return f"Request body is larger than {limit} bytes"

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
        await send({
            "type": "http.response.start", "status": status,
            "headers": [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close")],
        })
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
