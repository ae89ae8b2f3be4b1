"""The optional webhook that carries spike alerts to an operator (`deskbell report --alert`).

It refuses private, loopback and link-local targets so the server cannot be turned against its
own network.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit, urlunsplit


class WebhookRefused(ValueError):
    """The webhook URL is not an allowed target (bad scheme, private or unresolvable address)."""


def vet_address(host: str, port: int, allow_private: bool = False) -> str:
    """Resolve host and return one address; refuse if any address is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise WebhookRefused(f"cannot resolve {host}: {exc}") from None
    addresses = [str(info[4][0]) for info in infos]
    for text in addresses:
        address = ipaddress.ip_address(text.split("%")[0])
        if not allow_private and not address.is_global:
            raise WebhookRefused(f"{host} resolves to {address}, which is not a public address")
    return addresses[0]


def post_webhook(url: str, payload: Any, allow_private: bool = False, timeout: float = 5.0) -> int:
    """POST payload as JSON to url; returns the HTTP status. Private targets are refused.

    The connection goes to the address that was checked, so a DNS answer that changes between
    the check and the request cannot redirect it to an internal host.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise WebhookRefused("webhook_url must be an http:// or https:// URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = vet_address(parts.hostname, port, allow_private)
    raw = socket.create_connection((address, port), timeout=timeout)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(parts.hostname, port, timeout=timeout)
        raw = ssl.create_default_context().wrap_socket(raw, server_hostname=parts.hostname)
    else:
        conn = http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    conn.sock = raw
    body = json.dumps(payload).encode()
    try:
        conn.request("POST", urlunsplit(("", "", parts.path or "/", parts.query, "")), body,
                     {"Content-Type": "application/json", "User-Agent": "Deskbell"})
        return conn.getresponse().status
    finally:
        conn.close()


__all__ = ["WebhookRefused", "post_webhook", "vet_address"]
