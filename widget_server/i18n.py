"""The languages Deskbell speaks: the UI catalogs, the owner's overrides of them, text
direction, language names, and dates and numbers formatted per locale (Babel).

The catalogs are static/widget/i18n/<locale>.json, one per UI language, each translating
every string of en.json with the same {placeholders}. Keys starting with `site_` are the help
center's own (its pages, never the panel), so the panel's page does not carry them. The owner
overrides any string per locale in deskbell.toml (`[strings.es]`), checked at start by
`check_overrides`: an unknown key or a placeholder missing or extra is one error naming both.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal

from . import resources

SITE_PREFIX = "site_"
# Scripts written right to left: Arabic, Hebrew, Persian, Urdu.
RTL = frozenset({"ar", "he", "fa", "ur"})
_TAG = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def normalize(raw: str) -> str:
    """A language tag as Deskbell writes it: lower case, `-` between parts (`pt-br`)."""
    return str(raw).strip().lower().replace("_", "-")


def is_tag(raw: str) -> bool:
    return bool(_TAG.match(normalize(raw)))


def language(tag: str) -> str:
    """The language of a tag: `pt-br` -> `pt`."""
    return normalize(tag).split("-")[0]


def direction(tag: str) -> str:
    return "rtl" if language(tag) in RTL else "ltr"


@cache
def ui_locales() -> tuple[str, ...]:
    """The panel's languages: one catalog each in static/widget/i18n, English first."""
    found = sorted(p.stem for p in (resources.widget_dir() / "i18n").glob("*.json"))
    return ("en", *(code for code in found if code != "en"))


@cache
def catalog(locale: str) -> dict[str, str]:
    """One language's catalog as written (no fallback); {} for a language without one."""
    path = resources.widget_dir() / "i18n" / f"{language(locale)}.json"
    if language(locale) not in ui_locales() or not path.is_file():
        return {}
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def strings(locale: str, overrides: Mapping[str, Mapping[str, str]] | None = None
            ) -> dict[str, str]:
    """Every string in `locale`: English, then the language's catalog, then the owner's
    overrides for the language and for the exact tag (`pt`, then `pt-br`)."""
    merged = dict(catalog("en"))
    merged.update(catalog(locale))
    for key in dict.fromkeys((language(locale), normalize(locale))):
        merged.update((overrides or {}).get(key, {}))
    return merged


def panel_strings(locale: str, overrides: Mapping[str, Mapping[str, str]] | None = None
                  ) -> dict[str, str]:
    """The strings the panel's page carries: the help center's own left out."""
    return {k: v for k, v in strings(locale, overrides).items()
            if not k.startswith(SITE_PREFIX)}


def check_overrides(value: Any) -> dict[str, dict[str, str]]:
    """The `strings` setting: {locale: {key: text}}, or ValueError naming the locale and key
    of the first problem (a key en.json does not have, a placeholder missing or extra)."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise ValueError("expected tables like [strings.es] (in the environment: a JSON "
                             'object like {"es": {"contact_cta": "Escríbenos"}})') from None
    if not isinstance(value, Mapping):
        raise ValueError("expected tables like [strings.es], one per locale")
    english = catalog("en")
    out: dict[str, dict[str, str]] = {}
    for raw_locale, table in value.items():
        locale = normalize(raw_locale)
        if not is_tag(locale):
            raise ValueError(f"[strings.{raw_locale}]: {raw_locale!r} is not a language tag "
                             "like es or pt-br")
        if not isinstance(table, Mapping):
            raise ValueError(f"[strings.{locale}]: expected a table of key = \"text\"")
        out[locale] = {}
        for key, text in table.items():
            where = f"[strings.{locale}] {key}"
            if key not in english:
                near = difflib.get_close_matches(str(key), list(english), n=3)
                hint = f" (did you mean {', '.join(near)}?)" if near else ""
                raise ValueError(f"{where}: no such string{hint}")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{where}: expected non-empty text")
            wanted, got = placeholders(english[key]), placeholders(text)
            if got - wanted:
                extra = ", ".join(f"{{{p}}}" for p in sorted(got - wanted))
                raise ValueError(f"{where}: {extra} is not a placeholder of this string"
                                 + (f"; it takes {', '.join(f'{{{p}}}' for p in sorted(wanted))}"
                                    if wanted else "; it takes no placeholder"))
            if wanted - got:
                missing = ", ".join(f"{{{p}}}" for p in sorted(wanted - got))
                raise ValueError(f"{where}: must keep the placeholder {missing}")
            out[locale][str(key)] = text
    return out


# ---------------------------------------------------------------- Babel


@cache
def _babel(tag: str) -> Locale | None:
    for candidate in (normalize(tag).replace("-", "_"), language(tag)):
        try:
            return Locale.parse(candidate)
        except (UnknownLocaleError, ValueError):
            continue
    return None


def known_language(tag: str) -> bool:
    """Whether Babel knows the language (a folder named `es` is Spanish, `faq` is not)."""
    return is_tag(tag) and _babel(tag) is not None


def language_name(tag: str) -> str:
    """The language's own name, capitalized as at the start of a menu item: Español, 日本語."""
    found = _babel(tag)
    name = (found.get_display_name(found) or tag) if found else tag
    return name[:1].upper() + name[1:]


def format_day(value: str | dt.date, tag: str) -> str:
    """A date as the locale writes it (2 de marzo de 2026, 2. März 2026); "" for no date."""
    try:
        day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    except ValueError:
        return ""
    found = _babel(tag)
    return format_date(day, format="long", locale=found) if found else day.isoformat()


def format_number(value: float, tag: str) -> str:
    found = _babel(tag)
    return format_decimal(value, locale=found) if found else str(value)


__all__ = ["RTL", "catalog", "check_overrides", "direction", "format_day", "format_number",
           "is_tag", "known_language", "language", "language_name", "normalize",
           "panel_strings", "placeholders", "strings", "ui_locales"]
