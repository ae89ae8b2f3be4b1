"""Loading articles: front matter edge cases, slugs, drafts, and sanitized rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from widget_server.articles import load_kb, parse_article, slug_for_path
from widget_server.markup import render_markdown

from .conftest import DATA


def parse(text: str | bytes, name: str = "topic/page.md"):
    raw = text.encode() if isinstance(text, str) else text
    return parse_article(raw, Path(name))


def test_front_matter_fields_are_read() -> None:
    article, problems = parse(
        "---\ntitle: Hello\nsummary: S\ncategory: Cat\ntags: [a, b]\nlocale: de\n"
        "urls: ['*/x*']\naliases: [Old/Page]\nrelated: [other]\nupdated: 2026-02-03\n---\nBody\n"
    )
    assert problems == []
    assert article is not None
    assert (article.title, article.summary, article.category, article.locale) == ("Hello", "S", "Cat", "de")
    assert article.tags == ["a", "b"] and article.urls == ["*/x*"]
    # German is not the site's default language: its URL is under /kb/de/, and the slug the
    # file had before (topic/page) stays as an alias, so old links keep working.
    assert article.slug == "de/topic/page"
    assert article.aliases == ["old/page", "topic/page"] and article.related == ["other"]
    assert article.updated == "2026-02-03"


def test_title_falls_back_to_first_heading_and_slug_to_path() -> None:
    article, _ = parse("Intro line\n\n# The Heading\n\ntext", "Getting Started/My Page.md")
    assert article is not None
    assert article.title == "The Heading"
    assert article.slug == "getting-started/my-page"
    assert article.category == "Getting started"


def test_bom_and_crlf_files_parse_like_plain_ones() -> None:
    article, problems = parse(b"\xef\xbb\xbf---\r\ntitle: Crlf\r\ntags: [x]\r\n---\r\nBody\r\n")
    assert problems == [] and article is not None
    assert article.title == "Crlf" and article.tags == ["x"]
    assert "\r" not in article.body


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("---\ntitle: [oops\n---\nbody", 2, "malformed YAML"),
        ("---\ntitle: ok\ntags: 42\n---\nbody", 3, "tags: expected a list"),
        ("---\ntitle: ok\ndraft: maybe\n---\nbody", 3, "draft: expected true or false"),
        ("---\ntitle: ok\nupdated: soon\n---\nbody", 3, "updated: expected a date"),
        ("---\ntitle: !!python/object/apply:os.system [id]\n---\nb", 2, "unsafe or unknown YAML tag"),
        ("---\n- a list\n---\nbody", 2, "must be a mapping"),
        ("---\ntitle: never closed\nbody", 1, "never ends"),
        ("", 1, "no title"),
    ],
)
def test_front_matter_problems_name_the_line(text: str, line: int, message: str) -> None:
    _, problems = parse(text)
    assert any(p.line == line and message in p.message for p in problems), problems


def test_non_utf8_file_is_reported_not_crashed() -> None:
    article, problems = parse(b"---\ntitle: x\n---\ncaf\xe9\n")
    assert article is None
    assert problems[0].message == "file is not valid UTF-8 text" and problems[0].line == 4


def test_kb_cross_checks_duplicates_and_links() -> None:
    kb = load_kb(DATA / "broken")
    messages = [str(p) for p in kb.problems]
    assert any("duplicate slug 'same'" in m for m in messages)
    assert any("related: no article with slug 'nowhere'" in m for m in messages)
    assert any(m.startswith("links.md:6: broken link to /kb/missing-article") for m in messages)


def test_drafts_are_loaded_but_not_public() -> None:
    kb = load_kb(DATA / "kb")
    slugs = {a.slug for a in kb.public()}
    assert "billing/upcoming-plan" not in slugs
    assert "billing/upcoming-plan" in {a.slug for a in kb.articles}


def test_slug_for_path_is_stable_ascii() -> None:
    assert slug_for_path(Path("Café Menu/Ünïcode Title!.md")) == "cafe-menu/unicode-title"


def test_markdown_renders_tables_code_and_heading_anchors() -> None:
    html = render_markdown("## Set up\n\n|a|b|\n|-|-|\n|1|2|\n\n```python\nprint(1)\n```\n").html
    assert '<h2 id="set-up">' in html
    assert "<table>" in html and "<td>1</td>" in html
    assert '<code class="language-python">' in html


def test_external_links_get_noopener() -> None:
    html = render_markdown("[x](https://example.org/)").html
    assert 'rel="noopener noreferrer"' in html


def test_check_warns_about_raw_html_that_rendering_removes() -> None:
    _, problems = parse("---\ntitle: T\n---\nPaste this:\n<script src=x></script>\n\n```\n<script>ok</script>\n```\n")
    warnings = [p for p in problems if p.severity == "warning"]
    assert [(p.line, p.message.split(";")[0]) for p in warnings] == [(5, "raw <script> is removed when rendered")]
