"""Freshness: `review_by` and `owner` in front matter, checked like every other field, and
`deskbell check --stale`, the report of what needs an author."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from widget_server.articles import load_kb, parse_article, stale_report

from .conftest import REPO


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    today = dt.date.today().isoformat()
    write(root, "guide/overdue.md",
          "---\ntitle: Overdue\nreview_by: 2000-01-01\nowner: Ada Lovelace\n"
          "related: [guide/secret, guide/fresh]\n---\n"
          "Intro.\n"
          "\n"
          "See [fresh](/kb/guide/fresh), [the old name](/kb/old/fresh#part),\n"
          "[nothing](/kb/guide/nowhere) and [the plan](/kb/guide/secret).\n")
    write(root, "guide/fresh.md",
          "---\ntitle: Fresh\nreview_by: 2999-12-31\nowner: Grace\naliases: [old/fresh]\n---\n"
          "Read [the search page](/kb/search) or [all articles](/kb/).\n")
    write(root, "guide/due-today.md",
          f"---\ntitle: Due today\nreview_by: {today}\n---\nNot past its date yet.\n")
    write(root, "guide/unowned.md",
          "---\ntitle: Unowned\nreview_by: 2001-02-03\n---\nA [dead link](/kb/gone).\n")
    write(root, "guide/secret.md",
          "---\ntitle: Secret\ndraft: true\nreview_by: 2000-01-01\nowner: Nobody\n---\n"
          "Drafts are not published: [x](/kb/nowhere-either) is no one's problem yet.\n")
    return root


def stale_lines(kb: Path) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(main, ["check", "--stale", "--kb", str(kb)])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_stale_lists_overdue_reviews_and_links_visitors_cannot_follow(kb: Path) -> None:
    code, lines, summary = stale_lines(kb)
    assert code == 0  # a report, not a gate
    assert lines == [
        f"{kb}/guide/overdue.md:1: review was due 2000-01-01 (owner: Ada Lovelace)",
        f"{kb}/guide/overdue.md:1: related: 'guide/secret' (a draft) (owner: Ada Lovelace)",
        f"{kb}/guide/overdue.md:10: broken link to /kb/guide/nowhere (no such article) "
        "(owner: Ada Lovelace)",
        f"{kb}/guide/overdue.md:10: broken link to /kb/guide/secret (a draft) "
        "(owner: Ada Lovelace)",
        f"{kb}/guide/unowned.md:1: review was due 2001-02-03 (owner: none)",
        f"{kb}/guide/unowned.md:5: broken link to /kb/gone (no such article) (owner: none)",
    ]
    # Links to no article at all are errors for deskbell check too; the report says so.
    assert summary.strip() == ("2 articles past review, 4 links visitors cannot follow "
                               "(deskbell check finds 3 errors)")


def test_stale_is_quiet_about_a_fresh_kb_and_exits_0(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "---\ntitle: A\nreview_by: 2999-01-01\nowner: Ada\n---\nText.\n")
    code, lines, summary = stale_lines(tmp_path)
    assert (code, lines) == (0, [])
    assert summary.strip() == "0 articles past review, 0 links visitors cannot follow"


def test_stale_still_reports_when_the_kb_has_errors(kb: Path) -> None:
    write(kb, "broken.md", "---\ntitle: Broken\ndraft: maybe\n---\nText.\n")
    code, lines, summary = stale_lines(kb)
    assert code == 0 and len(lines) == 6
    assert summary.strip().endswith("(deskbell check finds 4 errors)")


def test_plain_check_does_not_report_freshness(kb: Path) -> None:
    # Past review dates and links to drafts are the report's business, not errors.
    result = CliRunner().invoke(main, ["check", "--kb", str(kb)])
    assert result.exit_code == 1  # only the links to no article at all are errors
    assert "review" not in result.stdout
    assert sorted(line.split(": ", 1)[1] for line in result.stdout.splitlines()) == [
        "broken link to /kb/gone", "broken link to /kb/guide/nowhere",
        "broken link to /kb/nowhere-either"]


@pytest.mark.parametrize(
    ("front", "line", "message"),
    [
        ("review_by: next spring", 3, "review_by: expected a date like 2026-01-31, got 'next spring'"),
        ("review_by: 2026-02-30", 3, "review_by: expected a date like 2026-01-31, got '2026-02-30'"),
        ("review_by: '2026-13-01'", 3, "review_by: expected a date like 2026-01-31"),
        ("review_by: [2026-01-01]", 3, "review_by: expected a date like 2026-01-31"),
        ("owner: [Ada, Grace]", 3, "owner: expected text, got list"),
        ("owner: {name: Ada}", 3, "owner: expected text, got dict"),
        ("updated: 2026-02-31", 3, "updated: expected a date like 2026-01-31, got '2026-02-31'"),
    ],
)
def test_bad_review_by_and_owner_are_problems_on_their_line(front: str, line: int,
                                                            message: str) -> None:
    article, problems = parse_article(f"---\ntitle: T\n{front}\n---\nBody\n".encode(),
                                      Path("a.md"))
    assert article is not None  # the article still loads, without the bad field
    assert [(p.line, p.severity) for p in problems] == [(line, "error")]
    assert problems[0].message.startswith(message), problems[0].message


def test_check_names_the_file_and_line_of_a_bad_review_by(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "---\ntitle: A\nowner: Ada\nreview_by: soon\n---\nText.\n")
    result = CliRunner().invoke(main, ["check", "--kb", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout.strip() == (
        f"{tmp_path}/a.md:4: review_by: expected a date like 2026-01-31, got 'soon'")


def test_review_by_and_owner_are_read_but_never_published() -> None:
    article, problems = parse_article(
        b"---\ntitle: T\nreview_by: 2026-09-01\nowner: Support team <support@example.com>\n"
        b"---\nBody\n", Path("a.md"))
    assert problems == [] and article is not None
    assert (article.review_by, article.owner) == ("2026-09-01", "Support team <support@example.com>")
    meta = article.meta()  # the catalog entry every page, API answer and index reads
    assert "owner" not in meta and "review_by" not in meta
    assert "support@example.com" not in repr(meta)


def test_stale_report_uses_the_day_it_is_given(kb: Path) -> None:
    articles = load_kb(kb).articles
    due = [s for s in stale_report(articles, dt.date(2001, 2, 4)) if s.kind == "review"]
    assert [s.path for s in due] == ["guide/overdue.md", "guide/unowned.md"]
    assert [s.kind for s in stale_report(articles, dt.date(1999, 1, 1))].count("review") == 0


def test_bundled_guide_has_nothing_stale() -> None:
    code, lines, _ = stale_lines(REPO / "kb")
    assert (code, lines) == (0, [])
