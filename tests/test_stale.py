"""Freshness: `review_by` and `owner` in front matter, checked like every other field, and
`deskbell check --stale`, the report of what needs an author."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from widget_server.articles import Article, load_kb, parse_article, stale_report
from widget_server.events import EventStore, NewEvent
from widget_server.insights.freshness import (
    MIN_DROP_POINTS,
    MIN_VOTES,
    WINDOW_DAYS,
    freshness_report,
    helpful_drops,
    windows_of,
)

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
    assert summary.strip() == ("2 articles past review, 4 links visitors cannot follow, "
                               "0 articles voted less helpful (deskbell check finds 3 errors)")


def test_stale_is_quiet_about_a_fresh_kb_and_exits_0(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "---\ntitle: A\nreview_by: 2999-01-01\nowner: Ada\n---\nText.\n")
    code, lines, summary = stale_lines(tmp_path)
    assert (code, lines) == (0, [])
    assert summary.strip() == ("0 articles past review, 0 links visitors cannot follow, "
                               "0 articles voted less helpful")


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


# --- helpful ratios that fell ------------------------------------------------------------------

NOW = dt.datetime(2026, 3, 31, 12, 0, tzinfo=dt.UTC)
SESSION = "s_" + "v" * 22


def votes(slug: str, helpful: int, unhelpful: int, days_ago: float,
          now: dt.datetime = NOW) -> list[NewEvent]:
    """`helpful` Yes and `unhelpful` No votes on `slug`, a minute apart, `days_ago` before now."""
    at = now - dt.timedelta(days=days_ago)
    return [NewEvent(SESSION, "vote", {"slug": slug, "helpful": n < helpful},
                     at + dt.timedelta(minutes=n)) for n in range(helpful + unhelpful)]


def history(now: dt.datetime = NOW) -> list[NewEvent]:
    """A month of votes, then another: one article got worse, the others did not (or cannot
    tell): the votes 45 days ago are "before", those 3 days ago "recent"."""
    return [
        # 9/10 helpful, then 5/11: fell 45 points. Recent votes name its old alias.
        *votes("guide/fresh", 9, 1, 45, now), *votes("old/fresh", 5, 6, 3, now),
        # 8/10, then 7/10: down 10 points, less than the margin.
        *votes("guide/unowned", 8, 2, 45, now), *votes("guide/unowned", 7, 3, 3, now),
        # 10/10, then 0/4: four votes say nothing yet.
        *votes("guide/overdue", 10, 0, 45, now), *votes("guide/overdue", 0, 4, 3, now),
        # No votes before, 0/10 now: nothing to fall from (the content gaps report has it).
        *votes("guide/due-today", 0, 10, 3, now),
        # A draft, and an article that is gone: nobody to tell.
        *votes("guide/secret", 10, 0, 45, now), *votes("guide/secret", 0, 10, 3, now),
        *votes("guide/deleted", 10, 0, 45, now), *votes("guide/deleted", 0, 10, 3, now),
        # Older than both windows, and other event types: ignored.
        *votes("guide/unowned", 0, 30, 61, now),
        NewEvent(SESSION, "article_view", {"slug": "guide/fresh", "source": "search"},
                 now - dt.timedelta(days=1)),
    ]


def as_read(events: list[NewEvent]) -> list[dict[str, object]]:
    """Events as an EventStore's iter_events gives them."""
    return [{"at": e.at.isoformat() if e.at else "", "session": e.session, "type": e.type,
             "data": dict(e.data), "_at": e.at} for e in events]


def test_an_article_whose_helpful_ratio_fell_is_listed_with_its_figures(kb: Path) -> None:
    articles = load_kb(kb).articles
    [drop] = helpful_drops(as_read(history()), articles, NOW)
    assert (drop.slug, drop.path, drop.owner) == ("guide/fresh", "guide/fresh.md", "Grace")
    assert (drop.helpful_before, drop.votes_before) == (9, 10)
    assert (drop.helpful_recent, drop.votes_recent) == (5, 11)
    assert drop.message == ("helpful 90% -> 45%, 11 votes in the last 30 days "
                            "(10 in the 30 days before)")
    # The one list both `deskbell check --stale` and an admin page read.
    rows = freshness_report(articles, windows_of(as_read(history()), NOW), NOW)
    assert [(r.kind, r.path, r.line) for r in rows] == [
        ("helpful", "guide/fresh.md", 1),
        ("review", "guide/overdue.md", 1), ("link", "guide/overdue.md", 1),
        ("link", "guide/overdue.md", 10), ("link", "guide/overdue.md", 10),
        ("review", "guide/unowned.md", 1), ("link", "guide/unowned.md", 5)]
    assert rows[0] == drop  # with its figures, for a page to show them its own way


def article(slug: str) -> Article:
    return Article(slug=slug, path=f"{slug}.md", title=slug)


@pytest.mark.parametrize(("before", "recent", "listed"), [
    ((4, 1), (0, 5), True),  # exactly MIN_VOTES in each window is enough
    ((4, 0), (0, 5), False),  # 4 votes before: too few
    ((5, 0), (0, 4), False),  # 4 votes recently: too few
    ((0, 0), (0, 20), False),  # no votes before at all
    ((16, 4), (13, 7), True),  # 80% -> 65%: exactly MIN_DROP_POINTS
    ((16, 4), (27, 13), False),  # 80% -> 67.5%: 12.5 points
    ((1, 9), (0, 10), False),  # 10% -> 0%: a fall, but within the margin
    ((5, 5), (10, 0), False),  # rose
])
def test_too_few_votes_or_a_small_fall_is_not_listed(before: tuple[int, int],
                                                     recent: tuple[int, int],
                                                     listed: bool) -> None:
    assert (MIN_VOTES, MIN_DROP_POINTS, WINDOW_DAYS) == (5, 15, 30)  # as the user guide says
    events = [*votes("a", *before, 40), *votes("a", *recent, 10)]
    assert bool(helpful_drops(as_read(events), [article("a")], NOW)) is listed


def test_the_windows_are_the_30_days_before_now_and_the_30_before_those() -> None:
    middle, first = NOW - dt.timedelta(days=30), NOW - dt.timedelta(days=60)
    at = [first, middle - dt.timedelta(seconds=1), middle, NOW - dt.timedelta(seconds=1)]
    # Every vote at the first two instants is "before" (all Yes), the last two "recent"
    # (all No); a vote just before the first window or at `now` itself is in neither.
    events = [NewEvent(SESSION, "vote", {"slug": "a", "helpful": t < middle}, t)
              for t in at for _ in range(5)]
    events += [NewEvent(SESSION, "vote", {"slug": "a", "helpful": False}, t)
               for t in (first - dt.timedelta(seconds=1), NOW) for _ in range(50)]
    [drop] = helpful_drops(as_read(events), [article("a")], NOW)
    assert (drop.helpful_before, drop.votes_before) == (10, 10)
    assert (drop.helpful_recent, drop.votes_recent) == (0, 10)


def stale_with_votes(kb: Path, data: Path, env: dict[str, str] | None = None) -> list[str]:
    result = CliRunner().invoke(main, ["check", "--stale", "--kb", str(kb),
                                       "--data-dir", str(data)], env=env)
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == ("2 articles past review, 4 links visitors cannot follow, "
                                     "1 articles voted less helpful "
                                     "(deskbell check finds 3 errors)")
    return [line for line in result.stdout.splitlines() if "helpful" in line]


def test_check_stale_reads_the_votes_from_the_json_event_store(kb: Path,
                                                               tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    EventStore(tmp_path / "data").append_many(history(now))
    assert stale_with_votes(kb, tmp_path / "data") == [
        f"{kb}/guide/fresh.md:1: helpful 90% -> 45%, 11 votes in the last 30 days "
        "(10 in the 30 days before) (owner: Grace)"]


def test_check_stale_reads_the_votes_from_postgresql(kb: Path, tmp_path: Path,
                                                     postgres_url: str) -> None:
    from widget_server.events.postgres import PostgresEventStore
    from widget_server.tickets import pg_schema

    with pg_schema.connect(postgres_url) as conn:
        pg_schema.upgrade(conn)
    store = PostgresEventStore(postgres_url)
    try:
        store.append_many(history(dt.datetime.now(dt.UTC)))
    finally:
        store.close()
    lines = stale_with_votes(kb, tmp_path / "no-json-data",
                             env={"DESKBELL_EVENT_STORE": postgres_url})
    assert lines == [f"{kb}/guide/fresh.md:1: helpful 90% -> 45%, 11 votes in the last 30 days "
                     "(10 in the 30 days before) (owner: Grace)"]


def test_check_stale_creates_no_data_folder(kb: Path, tmp_path: Path) -> None:
    code, _, _ = stale_lines(kb)
    assert code == 0
    result = CliRunner().invoke(main, ["check", "--stale", "--kb", str(kb),
                                       "--data-dir", str(tmp_path / "nothing-yet")])
    assert result.exit_code == 0 and not (tmp_path / "nothing-yet").exists()


def test_check_stale_says_so_when_the_votes_cannot_be_read(kb: Path, tmp_path: Path) -> None:
    from .conftest import free_port

    nowhere = f"postgresql://127.0.0.1:{free_port()}/deskbell?connect_timeout=2"
    result = CliRunner().invoke(main, ["check", "--stale", "--kb", str(kb)],
                                env={"DESKBELL_EVENT_STORE": nowhere})
    assert result.exit_code == 1
    assert "cannot" in result.stderr and "PostgreSQL" in result.stderr, result.stderr
