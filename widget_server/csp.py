"""Every Content-Security-Policy Deskbell sends, in one place.

    PAGES      /kb/, /admin/ and every other page of ours: our own origin only, never framed
    embed()    the panel page (/embed): framed by the sites allowed to embed the widget
    demo_host  the demo's host page: the strict policy a careful site would send itself
"""

from __future__ import annotations

PAGES = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def embed(allowed_origins: tuple[str, ...]) -> str:
    """The panel may be framed by `allowed_origins` (and us); by any site when none is set."""
    ancestors = " ".join(["'self'", *allowed_origins]) if allowed_origins else "*"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
        "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
        f"object-src 'none'; frame-ancestors {ancestors}"
    )


def demo_host(nonce: str, server_url: str) -> str:
    """Only the page's own nonced script and Deskbell's origin may add script and frames."""
    return (f"default-src 'self'; script-src 'nonce-{nonce}' {server_url}; img-src data:; "
            f"frame-src {server_url}; style-src 'self'; object-src 'none'; base-uri 'none'")


__all__ = ["PAGES", "demo_host", "embed"]
