"""Deskbell's settings: declared once as data, read from deskbell.toml < DESKBELL_* env < options.

Every setting has a name, a type, a default and a help line. The README's settings table is
checked against this list by a test, so adding a setting here means documenting it there.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class SettingsError(ValueError):
    """A setting has a bad value; the message names the setting and says what is wrong."""


def _path(value: Any) -> Path:
    if not isinstance(value, str | Path) or not str(value).strip():
        raise ValueError("expected a path")
    return Path(value).expanduser()


def _int(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError("expected a whole number")
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise ValueError("expected a whole number") from None
        if not lo <= number <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return number

    return parse


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value.strip()


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _origin(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path not in {"", "/"}:
        raise ValueError(f"{text!r} is not an origin like https://www.example.com")
    if parts.query or parts.fragment or parts.username:
        raise ValueError(f"{text!r} is not an origin like https://www.example.com")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _origins(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("expected a comma-separated list of origins")
    return tuple(_origin(str(item).strip()) for item in items if str(item).strip())


def _threshold(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError("expected a number between 0 and 1, or empty for the calibrated one") from None
    if not 0.0 <= number <= 1.0:
        raise ValueError("must be between 0 and 1 (empty: calibrated at reindex)")
    return number


def _rate(value: Any) -> str:
    from limits import parse

    text = _str(value)
    try:
        parse(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a rate like 5/minute or 100/hour") from None
    return text


def _limit_storage(value: Any) -> str:
    text = _str(value) or "memory://"
    if text == "memory://" or text.startswith(("redis://", "rediss://", "unix://")):
        if text.startswith(("redis://", "rediss://")) and not urlsplit(text).hostname:
            raise ValueError("a redis:// URL needs a host, like redis://127.0.0.1:6379/0")
        return text
    raise ValueError("expected memory:// or a Redis URL like redis://127.0.0.1:6379/0")


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = _str(value).lower()
        if text not in allowed:
            raise ValueError(f"expected one of: {', '.join(allowed)}")
        return text
    return check


POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_POSTGRES_EXAMPLE = "postgresql://user@host:5432/deskbell"


def _postgres_problem(text: str) -> str:
    """What is wrong with the shape of a PostgreSQL URL ("" if nothing); libpq judges the rest
    (query parameters, whether the server answers) when the store opens. Never quotes the
    URL, which may hold a password."""
    parts = urlsplit(text)
    if any(c.isspace() for c in text):
        return "contains blank space (percent-encode it, e.g. %20)"
    if parts.fragment:
        return "has a #fragment"
    database = parts.path.removeprefix("/")
    if not database:
        return "names no database (add /dbname after the host)"
    if "/" in database:
        return "has a path beyond the database name"
    for host in parts.netloc.rpartition("@")[2].split(","):
        port = host.rpartition("]")[2].partition(":")[2]  # an IPv6 address is in brackets
        if port and not (port.isdigit() and 1 <= int(port) <= 65535):
            return f"has port {port!r}, not a number from 1 to 65535"
    return ""


def _ticket_store(value: Any) -> str:
    text = _str(value)
    if text in {"json", "memory"}:
        return text
    if text.startswith(POSTGRES_SCHEMES):
        problem = _postgres_problem(text)
        if problem:
            raise ValueError(f"the PostgreSQL URL {problem}; expected a URL like {_POSTGRES_EXAMPLE}")
        return text
    raise ValueError("expected json (files under data_dir), memory (nothing kept) or a "
                     f"PostgreSQL URL like {_POSTGRES_EXAMPLE}")


def _url(value: Any) -> str:
    text = _str(value)
    if text and urlsplit(text).scheme not in {"http", "https"}:
        raise ValueError("expected an http:// or https:// URL")
    return text.rstrip("/")


def _mailbox(value: Any) -> str:
    """Empty, or one plain address without a +detail (the detail is Deskbell's to add)."""
    text = _str(value)
    local, at, domain = text.rpartition("@")
    if text and (not at or not local or "." not in domain or "+" in local
                 or any(c.isspace() or c in '<>,;"' for c in text)):
        raise ValueError("expected a plain address like support@example.com (no +detail)")
    return text


def _locale(value: Any) -> str:
    from .i18n import is_tag, normalize

    text = normalize(_str(value)) or "en"
    if not is_tag(text):
        raise ValueError(f"{text!r} is not a language tag like en, es or pt-br")
    return text


def _strings(value: Any) -> dict[str, dict[str, str]]:
    from .i18n import check_overrides

    return check_overrides(value)


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[Any], Any]
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("kb_dir", "./kb", "Folder of markdown articles (any depth).", _path),
    Setting("data_dir", "./deskbell-data", "Where the index, tickets and events live.", _path),
    Setting("ticket_store", "json", "Where tickets are kept: json (files under data_dir), memory (lost on exit; tests and demos) or a postgresql:// URL (shared by every machine; run deskbell db upgrade first).", _ticket_store),
    Setting("event_store", "json", "Where self-service events are kept: json (a file per UTC day under data_dir/events), memory (lost on exit; tests and demos) or a postgresql:// URL (shared by every machine; run deskbell db upgrade first).", _ticket_store),
    Setting("host", "127.0.0.1", "Address `deskbell serve` listens on.", _str),
    Setting("port", 8000, "Port `deskbell serve` listens on.", _int(1, 65535)),
    Setting("public_url", "", "Public base URL of this server, used in links and emails.", _url),
    Setting(
        "allowed_origins",
        (),
        "Origins of the sites that may embed the widget (comma-separated).",
        _origins,
    ),
    Setting("site_name", "Help Center", "Name shown on help-center pages and emails.", _str),
    Setting("default_locale", "en", "Language of articles that name none (no locale: in front matter, no locale folder), and the help center's language at /kb/.", _locale),
    Setting("locale_folders", False, "A top-level folder of kb_dir named for a language (es/, de/, pt-br/) holds that language's articles; the same path under each is one article's translations.", _bool),
    Setting("strings", {}, "The owner's wording of the panel and help center, per locale: [strings.es] tables of key = \"text\" (keys of static/widget/i18n/en.json).", _strings),
    Setting("synonyms_file", "", "Optional file of search synonyms, one group per line.", _str),
    Setting("search_max_results", 20, "Largest `limit` a search may ask for.", _int(1, 100)),
    Setting("semantic", True, "Rank by meaning with the bundled model and quote answers (false: words only).", _bool),
    Setting("answer_threshold", "", "Confidence an answer needs, 0-1 (empty: calibrated per knowledge base at reindex).", _threshold),
    Setting("query_max_length", 200, "Longest search query accepted, in characters.", _int(10, 2000)),
    Setting("max_body_bytes", 65536, "Largest request body accepted, in bytes.", _int(1024, 10485760)),
    Setting("admin_password", "", "Password of the first owner account: an install without agents creates the owner \"owner\" from it at the first sign-in, then no longer reads it (empty, and no agents: the admin is disabled).", _str, True),
    Setting("secret_key", "", "Key that signs admin browser cookies and reply addresses; generated into data_dir if empty.", _str, True),
    Setting("session_idle_minutes", 120, "An admin session ends after this many minutes without a request.", _int(5, 10080)),
    Setting("session_max_hours", 12, "An admin session ends this many hours after sign-in, however active.", _int(1, 720)),
    Setting("audit_retention_days", 365, "Days the audit log (sign-ins, agent changes, exports, erasures, notices) is kept.", _int(1, 3650)),
    Setting("reply_signature", "name", "Whose name the visitor sees on a reply: name (the agent's display name) or team (site_name).", _choice("name", "team")),
    Setting("identity_secret", "", "Key your site signs visitors' identities with (HMAC-SHA256, see deskbell identity); empty: identify only prefills the form.", _str, True),
    Setting("identity_required", False, "Only visitors your site signed in may open tickets (identify without a valid signature is refused).", _bool),
    Setting("smtp_host", "", "SMTP server for notifications (empty: no email).", _str),
    Setting("smtp_port", 25, "SMTP port.", _int(1, 65535)),
    Setting("smtp_user", "", "SMTP user name.", _str),
    Setting("smtp_password", "", "SMTP password.", _str, True),
    Setting("smtp_starttls", False, "Use STARTTLS with the SMTP server.", _bool),
    Setting("mail_from", "deskbell@localhost", "Sender address of notifications.", _str),
    Setting("notify_email", "",
            "Owner address notified of new tickets and sent the weekly digest"
            " (deskbell report --digest --send).", _str),
    Setting("mail_reply_to", "", "The support mailbox visitors may answer by email, e.g. support@example.com; its plus-addresses thread replies onto tickets (deskbell mail-in). Empty: replies by email are off.", _mailbox),
    Setting("mail_max_bytes", 26214400, "Largest inbound email accepted by deskbell mail-in, in bytes.", _int(10240, 209715200)),
    Setting("mail_imap_password", "", "Password for deskbell mail-in --imap when its URL carries none.", _str, True),
    Setting("ticket_rate_limit", "5/minute", "Tickets one IP address may open (count/period).", _rate),
    Setting("api_rate_limit", "300/minute", "API requests one IP address may make.", _rate),
    Setting("events_retention_days", 180, "Days self-service events are kept.", _int(1, 3650)),
    Setting("events_rate_limit", "60/minute", "Event batches one IP address may send.", _rate),
    Setting("events_session_limit", "600/hour", "Events one widget session may record.", _rate),
    Setting("rate_limit_storage", "memory://", "Where rate limits are counted: memory:// (per worker process) or redis://host:port/db (shared by every worker and node).", _limit_storage),
    Setting("rate_limit_when_down", "local", "When Redis cannot be reached: local (count in this process, as with memory://) or closed (refuse limited requests with 503).", _choice("local", "closed")),
    Setting("search_settle_seconds", 30, "How long a visitor's search waits for a refinement (typing on) before it is recorded as one search.", _int(1, 3600)),
    Setting("self_service_hours", 24, "A help session counts as self-served when no ticket follows within this many hours.", _int(1, 720)),
    Setting("events_max_day_mb", 100, "Cap on one day's event file, in MB.", _int(1, 100000)),
    Setting("nps_enabled", False, "Ask the 0-10 NPS question with the rating.", _bool),
    Setting("webhook_url", "", "URL that receives spike alerts as JSON (empty: none).", _url),
    Setting("attachment_max_bytes", 10485760, "Largest file a message may carry, in bytes.", _int(1024, 1073741824)),
    Setting("attachment_ticket_bytes", 26214400, "Most bytes of files one ticket may hold, all messages together.", _int(1024, 10737418240)),
    Setting("attachment_max_files", 5, "Most files one message may carry (0: no attachments).", _int(0, 100)),
    Setting("attachment_ticket_files", 20, "Most files one ticket may hold, all messages together.", _int(0, 1000)),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """The resolved settings; build with `load_settings`."""

    values: Mapping[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes: Any) -> Settings:
        return load_settings(overrides={**self.values, **changes}, config_file=None, environ={})

    @property
    def index_dir(self) -> Path:
        return Path(self.data_dir) / "index"


def _parse(name: str, raw: Any, source: str) -> Any:
    setting = _BY_NAME.get(name)
    if setting is None:
        raise SettingsError(f"unknown setting {name!r} in {source}")
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise SettingsError(f"setting {name} ({source}): {exc}") from None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    section = data.get("deskbell", data)
    if not isinstance(section, dict):
        raise SettingsError(f"{path}: [deskbell] must be a table")
    return section


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    config_file: str | Path | None = "deskbell.toml",
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting: default < config file < DESKBELL_* env < overrides (None skipped)."""
    environ = os.environ if environ is None else environ
    values = {s.name: s.parse(s.default) for s in SETTINGS}
    config_path = Path(environ.get("DESKBELL_CONFIG", config_file or "")) if config_file else None
    if config_path and config_path.is_file():
        for name, raw in _read_file(config_path).items():
            values[name] = _parse(name, raw, str(config_path))
    for key, raw in environ.items():
        if key.startswith("DESKBELL_") and key != "DESKBELL_CONFIG":
            name = key.removeprefix("DESKBELL_").lower()
            values[name] = _parse(name, raw, key)
    for name, raw in (overrides or {}).items():
        if raw is not None:
            values[name] = _parse(name, raw, f"--{name.replace('_', '-')}")
    return Settings(values=values)


def shown(setting: Setting, value: Any) -> str:
    """A setting's value as `deskbell config` prints it: a secret as "(set)", a URL with its
    password masked (a database or Redis URL may carry one)."""
    if setting.secret:
        return "(set)" if value else ""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        import json

        return json.dumps(value, ensure_ascii=False) if value else ""
    text = str(value)
    if "://" in text:
        parts = urlsplit(text)
        if parts.password is not None:
            user = parts.username or ""
            host = parts.netloc.rpartition("@")[2]
            text = parts._replace(netloc=f"{user}:***@{host}").geturl()
    return text


def describe() -> list[dict[str, str]]:
    """Name, default and help of every setting, for `deskbell config` and the README test."""
    return [
        {"name": s.name, "default": str(s.default), "help": s.help} for s in SETTINGS
    ]


__all__ = ["SETTINGS", "Setting", "Settings", "SettingsError", "describe", "load_settings",
           "shown"]
