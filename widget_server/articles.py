"""Articles: load markdown files with YAML front matter and validate them (markup.py renders).

An article's slug is its path below the KB folder without `.md`, each part slugified
(`Getting Started/Install.md` -> `getting-started/install`), unless front matter gives `slug`.
Problems are collected as `Problem(path, line, message)` so `deskbell check` can report them all.

A little over 400 lines on purpose: front matter, checks, links and freshness are one
pipeline over one Article, each step reporting problems with the line numbers the step before
computed; rendering and sanitizing, which need none of that, live in markup.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from .i18n import is_tag, known_language, normalize
from .markup import Rendered, render_markdown

FIELDS = {
    "title", "summary", "category", "tags", "locale", "draft", "urls", "aliases", "related",
    "updated", "slug", "review_by", "owner", "audience", "translation_of", "translations",
}
# `audience: internal`: for agents only (widget_server/internal.py); never indexed or served.
AUDIENCES = ("public", "internal")
# Front matter keys other tools put there (Zendesk ids, Hugo weights) are ignored, not errors.
_LIST_FIELDS = ("tags", "urls", "aliases", "related")
_STR_FIELDS = ("title", "summary", "category", "locale", "slug", "owner", "translation_of")
# Dates as YYYY-MM-DD. `review_by` and `owner` are for authors (deskbell check --stale): they
# stay out of the catalog, so no page, API answer or index ever shows them to a visitor.
_DATE_FIELDS = ("updated", "review_by")


@dataclass(frozen=True)
class LocaleOptions:
    """How an article's language is found: `locale:` in its front matter, else its locale
    folder (`kb/es/...`, with `locale_folders` on), else the site's `default_locale`."""

    default: str = "en"
    folders: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> LocaleOptions:
        return cls(default=str(settings.default_locale), folders=bool(settings.locale_folders))


KB_PREFIX = "/kb/"


def article_path(slug: str) -> str:
    """Where an article is read: the `kb_article` route (routes/pages.py), for the places
    that build a link without a request (search hits, the API, the CLI). A test checks the
    two agree."""
    return KB_PREFIX + quote(slug, safe="/")

@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Article:
    slug: str
    path: str
    title: str
    summary: str = ""
    category: str = ""
    tags: list[str] = field(default_factory=list)
    locale: str = "en"
    draft: bool = False
    urls: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    updated: str = ""
    review_by: str = ""
    owner: str = ""
    body: str = ""
    body_line: int = 1
    content_hash: str = ""
    audience: str = "public"
    # Translations: `translation_of` (front matter: the slug of the article this translates)
    # and `declared_translations` (front matter `translations: {es: es/billing/reembolsos}`)
    # link articles by hand; the same path under each locale folder links them without.
    # `translations` is what linking found: {locale: slug} of the others, published only.
    translation_of: str = ""
    declared_translations: dict[str, str] = field(default_factory=dict)
    translations: dict[str, str] = field(default_factory=dict)

    @property
    def internal(self) -> bool:
        """For agents only: kept out of the index, the help center and every public answer."""
        return self.audience == "internal"

    @property
    def url(self) -> str:
        return article_path(self.slug)

    @property
    def translation_key(self) -> str:
        """The slug without its locale: translations under locale folders share it."""
        return self.slug.removeprefix(f"{self.locale}/")

    def render(self) -> Rendered:
        return render_markdown(self.body)

    def meta(self) -> dict[str, Any]:
        """The catalog entry the server keeps in memory (everything but the body)."""
        return {
            "slug": self.slug, "path": self.path, "title": self.title, "summary": self.summary,
            "category": self.category, "tags": self.tags, "locale": self.locale,
            "urls": self.urls, "aliases": self.aliases, "related": self.related,
            "updated": self.updated, "hash": self.content_hash,
            "translation_of": self.translation_of,
            "declared_translations": self.declared_translations,
            "translations": self.translations,
        }


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def slug_for_path(relative: Path) -> str:
    parts = [slugify(p) for p in relative.with_suffix("").parts]
    return "/".join(p for p in parts if p)


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:32]


# ---------------------------------------------------------------- front matter


def _split_front_matter(text: str) -> tuple[str | None, str, int]:
    """Return (yaml text or None, body, line number where the body starts)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None, text, 1
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() in {"---", "..."}:
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), index + 2
    raise _FrontMatterError(1, "front matter starts with '---' but never ends")


class _FrontMatterError(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


def _key_line(front: str, key: str) -> int:
    for number, line in enumerate(front.split("\n"), start=2):
        if re.match(rf"\s*{re.escape(key)}\s*:", line):
            return number
    return 1


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a date that does not exist (`2026-02-31`) is read
    as text, for the field's own check to report, instead of a ValueError out of PyYAML."""

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return str(node.value)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)


def _parse_yaml(front: str) -> dict[str, Any]:
    try:
        data = yaml.load(front, Loader=_Loader) if front.strip() else {}  # a SafeLoader
    except yaml.constructor.ConstructorError as exc:
        line = (exc.problem_mark.line + 2) if exc.problem_mark else 1
        raise _FrontMatterError(line, f"unsafe or unknown YAML tag: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise _FrontMatterError(line, f"malformed YAML front matter: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _FrontMatterError(2, "front matter must be a mapping of key: value")
    return data


def _coerce(data: dict[str, Any], front: str, problems: list[Problem], path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def bad(key: str, message: str) -> None:
        problems.append(Problem(path, _key_line(front, key), f"{key}: {message}"))

    for key in _STR_FIELDS:
        if key in data and data[key] is not None:
            if isinstance(data[key], str | int | float) and not isinstance(data[key], bool):
                out[key] = str(data[key]).strip()
            else:
                bad(key, f"expected text, got {type(data[key]).__name__}")
    for key in _LIST_FIELDS:
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",")] if key == "tags" else [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            bad(key, "expected a list of text values")
            continue
        out[key] = [str(v).strip() for v in value if str(v).strip()]
    if data.get("translations") is not None:
        value = data["translations"]
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            out["translations"] = {normalize(str(k)): slugify_slug(v) for k, v in value.items()}
            bad_tags = [str(k) for k in value if not is_tag(str(k))]
            if bad_tags:
                bad("translations", f"{bad_tags[0]!r} is not a language tag like es or pt-br")
        else:
            bad("translations", "expected a mapping of locale: slug, like {es: es/billing/reembolsos}")
    if data.get("audience") is not None:
        if data["audience"] in AUDIENCES:
            out["audience"] = data["audience"]
        else:
            bad("audience", f"expected public or internal, got {data['audience']!r}")
    if "draft" in data and data["draft"] is not None:
        if isinstance(data["draft"], bool):
            out["draft"] = data["draft"]
        else:
            bad("draft", f"expected true or false, got {data['draft']!r}")
    for key in _DATE_FIELDS:
        if data.get(key) is not None:
            day = _date(data[key])
            if day is None:
                bad(key, f"expected a date like 2026-01-31, got {data[key]!r}")
            else:
                out[key] = day.isoformat()
    return out


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:  # quoted "2026-02-31"
            return None
    return None


_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def parse_article(raw: bytes, relative: Path, locales: LocaleOptions | None = None
                  ) -> tuple[Article | None, list[Problem]]:
    """Parse one file's bytes; return the article (None if unusable) and its problems."""
    locales = locales or LocaleOptions()
    path = relative.as_posix()
    problems: list[Problem] = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem(path, line, "file is not valid UTF-8 text")]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        front, body, body_line = _split_front_matter(text)
        data = _parse_yaml(front) if front is not None else {}
    except _FrontMatterError as exc:
        return None, [Problem(path, exc.line, exc.message)]
    meta = _coerce(data, front or "", problems, path)
    title = meta.get("title") or ""
    if not title:
        match = _HEADING.search(body)
        title = match.group(1).strip() if match else ""
    if not title:
        problems.append(Problem(path, 1, "no title: add `title:` to the front matter or a # heading"))
        return None, problems
    if not body.strip():
        problems.append(Problem(path, body_line, "article has no body text", "warning"))
    problems.extend(_raw_html_warnings(body, body_line, path))
    folder = _locale_folder(relative, locales)
    inner = Path(*relative.parts[1:]) if folder else relative
    locale = _article_locale(meta, folder, locales, front or "", path, problems)
    declared = meta.get("slug")
    old = slugify_slug(str(declared)) if declared else slug_for_path(relative)
    base = slugify_slug(str(declared)) if declared else slug_for_path(inner)
    base = base.removeprefix(f"{locale}/")
    if not base:
        problems.append(Problem(path, 1, "cannot derive a slug from the file name"))
        return None, problems
    # The site's default language keeps plain slugs; every other one lives under /kb/<locale>/.
    slug = base if locale == locales.default else f"{locale}/{base}"
    aliases = [_alias(a, locale, folder, locales) for a in meta.get("aliases", [])]
    # Old links keep working: the slug this file had before its language moved it, and
    # /kb/en/... for an article of the default language in its own locale folder.
    if old != slug:
        aliases.append(old)
    article = Article(
        slug=slug, path=path, title=title, summary=meta.get("summary", ""),
        category=meta.get("category", "") or _category_from_path(inner),
        tags=meta.get("tags", []), locale=locale,
        draft=meta.get("draft", False), urls=meta.get("urls", []),
        aliases=list(dict.fromkeys(a for a in aliases if a)),
        related=[slugify_slug(r) for r in meta.get("related", [])],
        updated=meta.get("updated", ""), review_by=meta.get("review_by", ""),
        owner=meta.get("owner", ""), body=body, body_line=body_line,
        content_hash=content_hash(raw), audience=meta.get("audience", "public"),
        translation_of=slugify_slug(meta.get("translation_of", "")),
        declared_translations=meta.get("translations", {}),
    )
    return article, problems


def _locale_folder(relative: Path, locales: LocaleOptions) -> str:
    """The locale of the top-level folder the file is in, with locale folders on ("" else)."""
    if not locales.folders or len(relative.parts) < 2:
        return ""
    name = relative.parts[0]
    return normalize(name) if name == name.lower() and known_language(name) else ""


def _article_locale(meta: dict[str, Any], folder: str, locales: LocaleOptions, front: str,
                    path: str, problems: list[Problem]) -> str:
    declared = normalize(meta.get("locale", ""))
    if declared and not is_tag(declared):
        problems.append(Problem(path, _key_line(front, "locale"),
                                f"locale: {meta['locale']!r} is not a language tag like es or "
                                "pt-br"))
        declared = ""
    if declared and folder and declared != folder:
        problems.append(Problem(path, _key_line(front, "locale"),
                                f"locale: {declared}, but the file is in the {folder}/ folder; "
                                f"it is read as {folder}", "warning"))
        return folder
    return declared or folder or locales.default


def _alias(raw: str, locale: str, folder: str, locales: LocaleOptions) -> str:
    """An alias of an article in a locale folder is in that folder's URL space (`viejo` in
    kb/es/ answers /kb/es/viejo), unless written from the root (`/viejo`)."""
    name = slugify_slug(raw)
    if not folder or raw.strip().startswith("/") or locale == locales.default:
        return name
    return name if name.startswith(f"{locale}/") else f"{locale}/{name}"


_RAW_HTML = re.compile(r"<\s*(script|iframe|style|object|embed|form)\b", re.IGNORECASE)
_FENCE = re.compile(r"^\s*(```|~~~)")


def _raw_html_warnings(body: str, first_line: int, path: str) -> list[Problem]:
    """Raw HTML that the sanitizer will remove: authors usually meant to show it as code."""
    found, fenced = [], False
    for offset, line in enumerate(body.split("\n")):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and not line.startswith("    ") and (m := _RAW_HTML.search(line)):
            if "`" not in line[: m.start()]:
                found.append(Problem(
                    path, first_line + offset,
                    f"raw <{m.group(1).lower()}> is removed when rendered; "
                    "to show it, put it in a fenced code block", "warning"))
    return found


def slugify_slug(value: str) -> str:
    value = value.strip().strip("/")
    if value.startswith("kb/"):
        value = value[3:]
    return "/".join(s for s in (slugify(p) for p in value.split("/")) if s)


def _category_from_path(relative: Path) -> str:
    if len(relative.parts) < 2:
        return ""
    return relative.parts[0].replace("-", " ").replace("_", " ").strip().capitalize()


# ---------------------------------------------------------------- loading a folder


@dataclass
class KnowledgeBase:
    root: Path
    articles: list[Article]
    problems: list[Problem]

    def public(self) -> list[Article]:
        return [a for a in self.articles if not a.draft and not a.internal]


def iter_markdown_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.md")):
        relative = path.relative_to(root)
        if path.is_file() and not any(p.startswith(".") for p in relative.parts):
            yield path


def load_kb(root: Path, locales: LocaleOptions | None = None) -> KnowledgeBase:
    """Read every article under root and cross-check slugs, aliases, related links and
    translations."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"knowledge base folder not found: {root}")
    articles: list[Article] = []
    problems: list[Problem] = []
    for path in iter_markdown_files(root):
        article, found = parse_article(path.read_bytes(), path.relative_to(root), locales)
        problems.extend(found)
        if article is not None:
            articles.append(article)
    problems.extend(cross_check(articles))
    return KnowledgeBase(root=root, articles=articles, problems=problems)


def load_site_kb(settings: Any, root: Path | None = None) -> KnowledgeBase:
    """The site's knowledge base (`kb_dir`, or `root`) read with its languages' settings
    (`default_locale`, `locale_folders`), as the index reads it: every command and page that
    names articles must give them the slugs the help center serves."""
    return load_kb(Path(root or settings.kb_dir), LocaleOptions.from_settings(settings))


_LINK = re.compile(r"\]\(\s*<?(/kb/[^)\s>#?]*)")


def cross_check(articles: Iterable[Article]) -> list[Problem]:
    articles = list(articles)
    problems: list[Problem] = []
    owner: dict[str, str] = {}
    for article in articles:
        for name in [article.slug, *article.aliases]:
            if name in owner:
                problems.append(Problem(article.path, 1, f"duplicate slug {name!r} (also {owner[name]})"))
            else:
                owner[name] = article.path
    for article in articles:
        # A related slug from a translated article means that article in the same language.
        article.related = [
            f"{article.locale}/{slug}" if f"{article.locale}/{slug}" in owner else slug
            for slug in article.related]
        for slug in article.related:
            if slug not in owner:
                problems.append(Problem(article.path, 1, f"related: no article with slug {slug!r}"))
        for line, target, slug in internal_links(article):
            if slug not in owner:
                problems.append(Problem(article.path, line, f"broken link to {target}"))
    problems.extend(link_translations(articles))
    return problems


# ---------------------------------------------------------------- translations


def link_translations(articles: Iterable[Article]) -> list[Problem]:
    """Group translations of one article and set each article's `translations` ({locale:
    slug} of its published translations in other languages). Linked are articles with the
    same path under locale folders (the same slug but for the locale), and those that
    `translation_of` or `translations` in front matter link. Problems: a link to no article,
    a `translations` entry in another language than it says, two articles in one language
    for one article (the first by path keeps the place)."""
    articles = sorted(articles, key=lambda a: a.path)
    problems: list[Problem] = []
    named: dict[str, Article] = {}
    for article in articles:
        for name in (article.slug, *article.aliases):
            named.setdefault(name, article)
    parent = {id(a): id(a) for a in articles}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    def join(a: Article, b: Article) -> None:
        parent[root(id(a))] = root(id(b))

    first_of_key: dict[str, Article] = {}
    for article in articles:
        join(article, first_of_key.setdefault(article.translation_key, article))
    for article in articles:
        if article.translation_of:
            target = named.get(article.translation_of)
            if target is None or target is article:
                problems.append(Problem(article.path, 1, f"translation_of: no article with slug "
                                                         f"{article.translation_of!r}"))
            else:
                join(article, target)
        for locale, slug in article.declared_translations.items():
            target = named.get(slug)
            if target is None:
                problems.append(Problem(article.path, 1, f"translations: {locale}: no article "
                                                         f"with slug {slug!r}"))
            elif target.locale != locale:
                problems.append(Problem(article.path, 1, f"translations: {locale}: {slug!r} is "
                                                         f"in {target.locale}, not {locale}"))
            elif target is not article:
                join(article, target)
    groups: dict[int, list[Article]] = {}
    for article in articles:
        groups.setdefault(root(id(article)), []).append(article)
    for members in groups.values():
        by_locale: dict[str, Article] = {}
        for article in members:
            kept = by_locale.setdefault(article.locale, article)
            if kept is not article:
                problems.append(Problem(article.path, 1, (
                    f"two {article.locale} translations of one article: {kept.path} and this "
                    f"one ({kept.path} is used; link one of them to another article or remove "
                    "it)")))
        shown = {loc: a.slug for loc, a in by_locale.items() if not a.draft and not a.internal}
        for article in members:
            article.translations = {loc: slug for loc, slug in sorted(shown.items())
                                    if loc != article.locale}
    return problems


def untranslated(articles: Iterable[Article], default: str) -> dict[str, list[Article]]:
    """For each other language the published knowledge base has, the published articles of
    the default language with no translation in it (deskbell check prints this table)."""
    published = [a for a in articles if not a.draft and not a.internal]
    locales = sorted({a.locale for a in published} - {default})
    originals = sorted((a for a in published if a.locale == default), key=lambda a: a.slug)
    return {loc: [a for a in originals if loc not in a.translations] for loc in locales}


def internal_links(article: Article) -> Iterator[tuple[int, str, str]]:
    """(line, link as written, slug) for each markdown link to an article, /kb/<slug>."""
    for offset, line in enumerate(article.body.split("\n")):
        for target in _LINK.findall(line):
            slug = target[len(KB_PREFIX) :].strip("/")
            if slug and slug != "search":  # /kb/ and /kb/search are pages, not articles
                yield article.body_line + offset, target, slug


# ---------------------------------------------------------------- freshness


@dataclass(frozen=True)
class Stale:
    """One line of `deskbell check --stale`: something in a published article to look at."""

    kind: str  # "review" (past its review_by date) or "link" (a link nobody can follow)
    path: str
    line: int
    message: str
    owner: str


def stale_report(articles: Iterable[Article], today: dt.date) -> list[Stale]:
    """Published articles past their `review_by` date, and links from published articles that
    a visitor cannot follow: to no article, to a draft (drafts are not served) or, from a
    public article, to an internal one (agents only). Drafts themselves are left out: nobody
    reads them yet."""
    articles = list(articles)
    public = [a for a in articles if not a.draft]
    served = {name for a in public if not a.internal for name in (a.slug, *a.aliases)}
    drafts = {name for a in articles if a.draft for name in (a.slug, *a.aliases)}
    internal = {name for a in public if a.internal for name in (a.slug, *a.aliases)}

    def why(slug: str) -> str:
        return ("a draft" if slug in drafts else "internal (agents only)" if slug in internal
                else "no such article")

    found: list[Stale] = []
    for article in public:
        readable = served | internal if article.internal else served  # agents read both
        if article.review_by and dt.date.fromisoformat(article.review_by) < today:
            found.append(Stale("review", article.path, 1,
                               f"review was due {article.review_by}", article.owner))
        for slug in article.related:
            if slug not in readable:
                found.append(Stale("link", article.path, 1,
                                   f"related: {slug!r} ({why(slug)})", article.owner))
        for line, target, slug in internal_links(article):
            if slug not in readable:
                found.append(Stale("link", article.path, line,
                                   f"broken link to {target} ({why(slug)})", article.owner))
    return sorted(found, key=lambda s: (s.path, s.line))


def in_language(metas: Iterable[dict[str, Any]], catalog: dict[str, dict[str, Any]],
                locale: str, default: str) -> list[dict[str, Any]]:
    """Catalog entries as a visitor of `locale` should see them: each article once, in
    `locale` when it is translated, else in the default language, else as written. The
    order of `metas` is kept (an entry stands where its first translation stood)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for meta in metas:
        versions = {**meta.get("translations", {}), meta["locale"]: meta["slug"]}
        key = min(versions.values())
        if key in seen:
            continue
        seen.add(key)
        pick = catalog.get(versions.get(locale) or versions.get(locale.split("-")[0])
                           or versions.get(default) or meta["slug"])
        out.append(pick or meta)
    return out
