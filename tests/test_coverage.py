"""A gap marked covered: the draft `deskbell gaps --draft` wrote for "refund policy" is
published, and `deskbell gaps --covered` shows its zero-result searches, searches and tickets
over equal windows before and after; the gap stops asking for an article; a draft covers
nothing; JSON files and PostgreSQL give the same rows; hostile `sources` stay harmless."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner

from cli.main import main
from tests.test_report_cli import KEEP
from widget_server.articles import load_kb
from widget_server.events import EventStore, MemoryEventStore, NewEvent
from widget_server.events.postgres import PostgresEventStore
from widget_server.insights import to_jsonable
from widget_server.insights.coverage import (
    Counts,
    CoveringArticle,
    coverage,
    coverage_of,
    covered_by,
    covering_articles,
    load_coverage,
    window_days,
)
from widget_server.queries import cluster_queries, normalize_query, query_key
from widget_server.tickets import pg_schema

UTC_ZONE = ZoneInfo("UTC")
PUBLISHED = date(2026, 11, 12)
P = datetime(2026, 11, 12, tzinfo=UTC)
TODAY = date(2026, 11, 26)  # 14 days after: windows of 14 days
UNTIL = ["--until", "2026-11-25"]  # the last day counted: the day before TODAY
SPELLINGS = ["refund policy", "refund policies", "refund polcy"]
HOSTILE_QUERY = "x'; drop table events; -- <script>alert(1)</script> y"
# What seeded_events give the refund-policy group (the hostile query is another question).
BEFORE = Counts(zero_result_searches=42, searches=42, tickets=9)
AFTER = Counts(zero_result_searches=6, searches=36, tickets=2)


def _sid(n: int) -> str:
    return f"s_{n:022d}"


def seeded_events() -> list[NewEvent]:
    """Four weeks of searches around the publication day P (2026-11-12, UTC):

    before P (14 days): 42 zero-result searches of the refund-policy group in three
    spellings, 9 sessions of "refund policy" then opening a ticket; after P: 6 zero-result
    searches, 30 that find the new article, 2 tickets. Around them, what must not count: a
    ticket before its session's search, tickets after other searches ("refunds" is another
    question), searches older than the windows, a hostile query (counted only where
    `sources` name it)."""
    out: list[NewEvent] = []

    def search(session: int, query: str, results: int, at: datetime) -> None:
        out.append(NewEvent(_sid(session), "search", {"query": query, "results": results}, at))

    def ticket(session: int, at: datetime, n: int) -> None:
        out.append(NewEvent(_sid(session), "ticket_created",
                            {"reference": f"DB-COVR-{n:04d}-SEED"}, at))

    start = P - timedelta(days=14)
    for i in range(41):
        at = start + timedelta(hours=8 * i) if i < 40 else P - timedelta(seconds=1)
        search(i, SPELLINGS[i % 3], 0, at)
        if i % 3 == 0 and i < 27:
            ticket(i, at + timedelta(minutes=3), i)
    for i in range(2):  # the hostile query, twice, before
        search(100 + i, HOSTILE_QUERY, 0, start + timedelta(days=2, hours=i))
    ticket(200, start + timedelta(days=3), 200)  # a ticket, then the group's search: no
    search(200, "refund policy", 0, start + timedelta(days=3, minutes=5))
    for i in range(5):  # another question, its tickets: no
        search(300 + i, "refunds", 0, start + timedelta(days=4, hours=i))
        ticket(300 + i, start + timedelta(days=4, hours=i, minutes=2), 300 + i)
    for i in range(7):  # older than the before window: no
        search(400 + i, "refund policy", 0, start - timedelta(days=1, hours=i))
    for i in range(36):  # after P: the first 6 before the reindex found nothing
        at = P + timedelta(hours=9 * i)
        search(500 + i, SPELLINGS[i % 3], 0 if i < 6 else 3, at)
        if i in (0, 20):
            ticket(500 + i, at + timedelta(minutes=1), 500 + i)
    search(600, "refund policy", 0, P + timedelta(days=14))  # the after window has ended
    return out


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    EventStore(path, retention_days=3650).append_many(seeded_events())
    return path


def run(*args: str, env: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={**KEEP, **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def ok(*args: str, env: Mapping[str, str] | None = None) -> str:
    code, out, err = run(*args, env=env)
    assert code == 0, out + err
    return out


def draft_and_publish(data_dir: Path, kb: Path, updated: str | None = "2026-11-12") -> Path:
    """`deskbell gaps --draft` over the 14 days before P, then the author publishes the
    refund-policy draft: `draft: true` removed, `updated:` set (or not)."""
    out = ok("gaps", "--data-dir", str(data_dir), "--kb", str(kb), "--since", "2026-10-29",
             "--until", "2026-11-11", "--draft", str(kb / "billing"))
    assert "wrote " in out
    path = kb / "billing" / "refund-policy.md"
    text = path.read_text(encoding="utf-8")
    assert "draft: true\n" in text
    published = text.replace("draft: true\n", f"updated: {updated}\n" if updated else "")
    path.write_text(published.replace("Write the answer here.", "Within 30 days."),
                    encoding="utf-8")
    return path


# --- the whole path: draft, publish, compare ----------------------------------------------------


def test_the_drafts_sources_name_the_gap(data_dir: Path, kb_dir: Path) -> None:
    path = draft_and_publish(data_dir, kb_dir)
    front = yaml.safe_load(path.read_text(encoding="utf-8").split("---\n")[1])
    assert {q["query"]: q["no_results"] for q in front["sources"]["queries"]} == {
        "refund policy": 15, "refund policies": 14, "refund polcy": 13}
    assert len(front["sources"]["tickets"]) == 5  # the report keeps five references
    code, out, err = run("check", "--kb", str(kb_dir))
    assert code == 0 and "refund-policy" not in out, out + err


def test_covered_gap_before_and_after_counts_are_exact(data_dir: Path, kb_dir: Path) -> None:
    draft_and_publish(data_dir, kb_dir)
    out = ok("gaps", "--covered", *UNTIL, "--data-dir", str(data_dir),
             "--kb", str(kb_dir))
    lines = out.splitlines()
    assert lines[0] == "Covered gaps up to 2026-11-25 (UTC):"
    assert lines[1] == ("  billing/refund-policy (Refund policy), published 2026-11-12, "
                        "covers: refund policy, refund policies, refund polcy")
    assert lines[2] == ("    zero-result searches 42 \u2192 6, searches 42 \u2192 36, "
                        "tickets 9 \u2192 2, over 14 days before and after 2026-11-12")
    assert len(lines) == 3


def test_covered_gaps_as_json(data_dir: Path, kb_dir: Path) -> None:
    draft_and_publish(data_dir, kb_dir)
    out = ok("gaps", "--covered", "--format", "json", *UNTIL, "--data-dir",
             str(data_dir), "--kb", str(kb_dir))
    result = json.loads(out)
    assert result["until"] == "2026-11-25" and result["waiting"] == []
    [row] = result["covered"]
    assert row["article"]["slug"] == "billing/refund-policy"
    assert row["article"]["published"] == "2026-11-12"
    assert (row["before_since"], row["published_at"], row["after_until"]) == (
        "2026-10-29T00:00:00+00:00", "2026-11-12T00:00:00+00:00", "2026-11-26T00:00:00+00:00")
    assert row["days"] == 14 and row["complete"] is True and row["partial"] is False
    assert row["before"] == {"zero_result_searches": 42, "searches": 42, "tickets": 9}
    assert row["after"] == {"zero_result_searches": 6, "searches": 36, "tickets": 2}
    assert row["change"] == {"zero_result_searches": -36, "searches": -6, "tickets": -7}


def test_a_covered_gap_is_labelled_and_not_drafted_again(data_dir: Path, kb_dir: Path,
                                                        tmp_path: Path) -> None:
    draft_and_publish(data_dir, kb_dir)
    args = ["gaps", "--data-dir", str(data_dir), "--kb", str(kb_dir), "--since", "2026-10-29",
            "--until", "2026-11-11"]
    listed = ok(*args)
    refund = next(line for line in listed.splitlines() if "refund polic" in line)
    assert refund == ("  1. refund policy (also: refund policies, refund polcy): 42 searches "
                      "found nothing, 9 tickets followed a search -> covered by "
                      "billing/refund-policy")
    assert re.search(r"refunds: .* -> write an article$", listed, re.MULTILINE)
    # Over days that include the article, searches find it: the report suggests a synonym
    # or a rewrite, and the gap still says which article covers it.
    since_then = ok(*args[:-1], "2026-11-25")
    refund = next(line for line in since_then.splitlines() if "refund polic" in line)
    assert refund.endswith("-> rewrite the articles this search finds; add a synonym or "
                           "alias; covered by billing/refund-policy"), refund
    out = ok(*args, "--draft", str(tmp_path / "more"))
    assert "not drafted: refund polic" in out and "is covered by billing/refund-policy" in out
    written = sorted(p.name for p in (tmp_path / "more").iterdir())
    assert written and not [name for name in written if "polic" in name]


def test_the_admin_page_labels_a_covered_gap_and_offers_no_draft_for_it(
        data_dir: Path, kb_dir: Path) -> None:
    from tests.test_admin import admin_client

    with admin_client(kb_dir, data_dir) as client:
        range_ = "/admin/insights?since=2026-10-29&until=2026-11-11&tz=UTC"
        before = client.get(range_).text
        draft_and_publish(data_dir, kb_dir)
        after = client.get(range_).text
        page = client.get("/admin/insights?since=2026-11-12&until=2026-11-25&tz=UTC").text
    row = re.compile(r'<tr><td><a href="/kb/search\?q=refund%20policy">.*?</tr>', re.DOTALL)
    assert 'value="refund policy"' in row.findall(before)[0]  # a draft is offered
    assert "covered by <a" not in before
    covered = row.findall(after)
    assert covered and all('covered by <a href="/kb/billing/refund-policy">' in r and
                           "Draft an article" not in r for r in covered)
    assert re.search(r'q=refunds">.*?Draft an article', after, re.DOTALL)  # others still are
    # Before the article was published, no gap was covered and nothing is compared.
    assert "Covered gaps: before and after" not in before
    table = page[page.index('id="covered-h"'):]
    table = table[:table.index("</table>")]
    cells = re.findall(r'<td class="num">([^<]+)</td>', table)
    assert "Refund policy" in table and "2026-11-12" in table
    assert cells == ["14", f"{BEFORE.zero_result_searches} → {AFTER.zero_result_searches}",
                     f"{BEFORE.searches} → {AFTER.searches}",
                     f"{BEFORE.tickets} → {AFTER.tickets}"]


def test_events_that_cannot_be_read_leave_the_page_without_the_comparison(
        data_dir: Path, kb_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    from widget_server.errors import StorageUnavailable
    from widget_server.routes.insights import covered_gaps

    class Unreachable:
        """The event store's server is down (fault injection)."""

        def iter_searches_and_tickets(self, since: datetime, until: datetime) -> Any:
            raise StorageUnavailable("the event store cannot be reached")

        def days(self) -> list[date]:
            raise StorageUnavailable("the event store cannot be reached")

    draft_and_publish(data_dir, kb_dir)
    slug_of, compared = covered_gaps(Unreachable(), load_kb(kb_dir), TODAY,  # type: ignore[arg-type]
                                     UTC_ZONE)
    assert compared.rows == () and compared.waiting == ()
    assert slug_of(["refund policy"]) == "billing/refund-policy"  # the labels stay
    assert "covered gaps not compared: the event store cannot be reached" in caplog.text


def test_the_digest_does_not_ask_to_write_a_covered_gap(data_dir: Path, kb_dir: Path) -> None:
    args = ["report", "--digest", "--until", "2026-11-11", "--data-dir", str(data_dir),
            "--kb", str(kb_dir)]

    def to_write(out: str) -> list[str]:
        section = out.split("Content gaps to write first\n", 1)[1].split("\n\n", 1)[0]
        return [line for line in section.splitlines() if re.match(r"  \d\. ", line)]

    assert to_write(ok(*args)) == [
        "  1. refund policy (also: refund policies, refund polcy): 20 searches found nothing, "
        "2 tickets followed a search -> write an article"]
    draft_and_publish(data_dir, kb_dir)
    after = ok(*args)
    assert to_write(after) == [] and "  none this week" in after


def test_a_draft_covers_nothing(data_dir: Path, kb_dir: Path) -> None:
    ok("gaps", "--data-dir", str(data_dir), "--kb", str(kb_dir), "--since", "2026-10-29",
       "--until", "2026-11-11", "--draft", str(kb_dir / "billing"))
    path = kb_dir / "billing" / "refund-policy.md"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "draft: true\n", "draft: true\nupdated: 2026-11-12\n"), encoding="utf-8")
    assert covering_articles(load_kb(kb_dir)) == ((), ())
    out = ok("gaps", "--covered", *UNTIL, "--data-dir", str(data_dir),
             "--kb", str(kb_dir))
    assert out.splitlines()[1] == "  none: no published article has the `sources` of a draft"
    listed = ok("gaps", "--data-dir", str(data_dir), "--kb", str(kb_dir), "--since",
                "2026-10-29", "--until", "2026-11-25")
    assert "covered by" not in listed


def test_an_article_without_a_date_covers_but_waits(data_dir: Path, kb_dir: Path) -> None:
    draft_and_publish(data_dir, kb_dir, updated=None)
    out = ok("gaps", "--covered", *UNTIL, "--data-dir", str(data_dir),
             "--kb", str(kb_dir))
    assert out.splitlines()[1] == ("  billing/refund-policy (Refund policy): not compared, no "
                                   "publication date: add `updated:` to its front matter")


def test_date_stands_in_for_updated(data_dir: Path, kb_dir: Path) -> None:
    path = draft_and_publish(data_dir, kb_dir, updated=None)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "title:", "date: 2026-11-12\ntitle:", 1), encoding="utf-8")
    out = ok("gaps", "--covered", *UNTIL, "--data-dir", str(data_dir),
             "--kb", str(kb_dir))
    assert "zero-result searches 42 \u2192 6" in out and "published 2026-11-12" in out


@pytest.mark.parametrize("args", [["--since", "2026-11-01"], ["--draft", "x"]])
def test_covered_refuses_what_it_does_not_use(data_dir: Path, kb_dir: Path,
                                              args: list[str]) -> None:
    code, _, err = run("gaps", "--covered", *args, "--data-dir", str(data_dir), "--kb",
                       str(kb_dir))
    assert code == 2 and "leave out --since and --draft" in err


def test_format_without_covered_is_refused(data_dir: Path, kb_dir: Path) -> None:
    code, _, err = run("gaps", "--format", "json", "--data-dir", str(data_dir), "--kb",
                       str(kb_dir))
    assert code == 2 and "--format and --days go with --covered" in err


# --- windows -----------------------------------------------------------------------------------


def _article(published: date | None, *queries: str) -> CoveringArticle:
    return CoveringArticle("billing/refund-policy", "billing/refund-policy.md", "Refund policy",
                           published, queries or ("refund policy",), ())


def _events(*stamped: tuple[datetime, str, int]) -> list[dict[str, Any]]:
    """Search events as a store reads them: (time, query, results)."""
    return [{"at": at.isoformat(), "_at": at, "session": _sid(n), "type": "search",
             "data": {"query": query, "results": results}}
            for n, (at, query, results) in enumerate(stamped)]


def test_window_days() -> None:
    assert window_days(PUBLISHED, TODAY) == 14
    assert window_days(PUBLISHED, PUBLISHED + timedelta(days=90)) == 30
    assert window_days(PUBLISHED, PUBLISHED + timedelta(days=90), cap=7) == 7
    assert window_days(PUBLISHED, PUBLISHED) == 1


def test_recent_publication_gets_equal_windows() -> None:
    """Published three days ago: three days on each side, each edge in its window once."""
    today = PUBLISHED + timedelta(days=3)
    events = _events(
        (P - timedelta(days=3, seconds=1), "refund policy", 0),  # before the before window
        (P - timedelta(days=3), "refund policy", 0),  # the before window's first instant
        (P - timedelta(microseconds=1), "refund policies", 0),
        (P, "refund policy", 0),  # publication: after
        (P + timedelta(days=3) - timedelta(microseconds=1), "refund polcy", 4),
        (P + timedelta(days=3), "refund policy", 0))  # today: after the after window
    [row] = coverage([_article(PUBLISHED)], events, today, UTC_ZONE).rows
    assert row.days == 3 and row.complete
    assert row.published_at - row.before_since == row.after_until - row.published_at
    assert row.before == Counts(2, 2, 0) and row.after == Counts(1, 2, 0)


def test_published_today_compares_one_day_not_yet_over() -> None:
    events = _events((P - timedelta(hours=2), "refund policy", 0),
                     (P + timedelta(hours=2), "refund policy", 1))
    [row] = coverage([_article(PUBLISHED)], events, PUBLISHED, UTC_ZONE).rows
    assert (row.days, row.complete) == (1, False)
    assert (row.before, row.after) == (Counts(1, 1, 0), Counts(0, 1, 0))


def test_windows_are_local_days() -> None:
    paris = ZoneInfo("Europe/Paris")
    events = _events((datetime(2026, 11, 11, 23, 30, tzinfo=UTC), "refund policy", 0))
    [row] = coverage([_article(PUBLISHED)], events, TODAY, paris).rows
    assert row.published_at == datetime(2026, 11, 12, tzinfo=paris)
    assert row.after.searches == 1  # 00:30 on the 12th in Paris


def test_a_future_publication_waits() -> None:
    result = coverage([_article(TODAY + timedelta(days=1))], [], TODAY, UTC_ZONE)
    assert result.rows == () and result.waiting[0][1] == "published 2026-11-27, after today"


def test_the_group_is_the_meaning_not_the_words() -> None:
    slug_of = covered_by([_article(PUBLISHED)])
    assert slug_of(["Refund Policies?"]) == "billing/refund-policy"
    assert slug_of(["refund polcy"]) == "billing/refund-policy"
    for other in ["refunds", "return policy", "policy", "how do i", ""]:
        assert slug_of([other]) is None, other


# --- hostile sources ---------------------------------------------------------------------------


def _publish(kb: Path, name: str, sources: str, updated: str = "2026-11-12") -> None:
    (kb / "billing" / f"{name}.md").write_text(
        f"---\ntitle: {name}\nupdated: {updated}\n{sources}---\nAn answer.\n", encoding="utf-8")


def test_hostile_sources_are_read_as_text(data_dir: Path, kb_dir: Path) -> None:
    queries = [HOSTILE_QUERY, "\x1b[31mred\x1b[0m \u202eevil", "$1 %s {}", "",
               "a" * 5000, 12345, {"nested": ["x"]}, None, True]
    block = yaml.safe_dump({"sources": {"queries": [{"query": q} for q in queries]
                                        + ["refund policy"]}}, allow_unicode=True)
    _publish(kb_dir, "hostile", block)
    _publish(kb_dir, "many", yaml.safe_dump({"sources": {"queries": [
        {"query": f"question {n}"} for n in range(500)]}}))
    _publish(kb_dir, "not-a-map", "sources: [refund policy]\n")
    shown = [normalize_query(str(q)) for q in queries[:5]]
    _publish(kb_dir, "no-list", "sources:\n  queries: refund policy\n")
    code, out, err = run("check", "--kb", str(kb_dir))
    assert code == 0, out + err
    code, out, err = run("gaps", "--covered", *UNTIL, "--data-dir",
                         str(data_dir), "--kb", str(kb_dir))
    assert code == 0, out + err
    assert "\x1b" not in out and "\u202e" not in out  # escapes and bidi overrides: spaces
    shown_plain = [q.replace("\u202e", " ") for q in shown if q]
    assert ("  billing/hostile (hostile), published 2026-11-12, covers: "
            f"{', '.join(shown_plain)}, 12345 and 1 more") in out.splitlines()
    assert "zero-result searches 44 \u2192 6, searches 44 \u2192 36, tickets 9 \u2192 2" in out
    assert "billing/many (many), published 2026-11-12" in out and "and 45 more" in out
    assert "billing/not-a-map.md:1: sources: expected a mapping with a list of queries" in err
    assert "billing/no-list.md:1: sources: expected `queries:` as a list" in err
    assert "billing/many.md:1: sources: only the first 50 of 500 queries count" in err
    as_json = json.loads(ok("gaps", "--covered", "--format", "json", *UNTIL,
                            "--data-dir", str(data_dir), "--kb", str(kb_dir)))
    hostile = next(r for r in as_json["covered"] if r["article"]["slug"] == "billing/hostile")
    assert hostile["article"]["queries"][0] == HOSTILE_QUERY
    assert hostile["article"]["queries"] == [
        *(q for q in shown if q), "12345", "refund policy"]


# --- the same rows from files and PostgreSQL ---------------------------------------------------


class Counting:
    """An event store that counts how often it is read."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.reads: list[tuple[datetime | None, datetime | None]] = []

    def iter_searches_and_tickets(self, since: datetime,
                                  until: datetime) -> Iterator[Mapping[str, Any]]:
        self.reads.append((since, until))
        return self.store.iter_searches_and_tickets(since, until)

    def days(self) -> list[date]:
        return self.store.days()


def test_json_and_postgresql_give_the_same_rows(data_dir: Path, kb_dir: Path,
                                               postgres_url: str) -> None:
    draft_and_publish(data_dir, kb_dir)
    _publish(kb_dir, "hostile", yaml.safe_dump({"sources": {"queries": [
        {"query": HOSTILE_QUERY}]}}), updated="2026-11-05")
    with pg_schema.connect(postgres_url) as conn:
        pg_schema.upgrade(conn)
    database = PostgresEventStore(postgres_url, retention_days=3650)
    try:
        database.append_many(seeded_events())
        files = Counting(EventStore(data_dir, retention_days=3650))
        from_files = load_coverage(files, kb_dir, TODAY, UTC_ZONE)
        from_database = load_coverage(database, kb_dir, TODAY, UTC_ZONE)
        paris = load_coverage(database, kb_dir, TODAY, ZoneInfo("Europe/Paris"), days=10)
    finally:
        database.close()
    assert to_jsonable(from_files) == to_jsonable(from_database)
    assert files.reads == [(datetime(2026, 10, 15, tzinfo=UTC_ZONE),
                            datetime(2026, 11, 26, tzinfo=UTC_ZONE))]  # one pass
    rows = {r.article.slug: r for r in from_database.rows}
    refund = rows["billing/refund-policy"]
    assert (refund.before, refund.after) == (BEFORE, AFTER)
    hostile = rows["billing/hostile"]
    assert hostile.days == 21 and hostile.before == Counts(2, 2, 0)
    assert hostile.partial and not refund.partial  # the oldest event is on 2026-10-27
    assert hostile.after == Counts(0, 0, 0)
    assert {r.days for r in paris.rows} == {10}
    out = ok("gaps", "--covered", "--format", "json", *UNTIL, "--data-dir",
             str(data_dir), "--kb", str(kb_dir), env={"DESKBELL_EVENT_STORE": postgres_url})
    assert json.loads(out)["covered"] == to_jsonable(from_files)["covered"]


def test_far_apart_windows_are_read_once_each_and_nothing_between() -> None:
    """Two articles published months apart: their windows are read, not the months between."""
    store = MemoryEventStore(retention_days=None)
    store.append_many([
        NewEvent(_sid(1), "search", {"query": "refund policy", "results": 0}, P - timedelta(days=1)),
        NewEvent(_sid(2), "search", {"query": "refund policy", "results": 0},
                 P + timedelta(days=60)),  # between the two articles' windows
        NewEvent(_sid(3), "search", {"query": "dark mode", "results": 0},
                 P + timedelta(days=119)),
        NewEvent(_sid(3), "ticket_created", {"reference": "DB-COVR-0003-SEED"},
                 P + timedelta(days=119, minutes=1)),
        NewEvent(_sid(4), "search", {"query": "dark mode", "results": 0},
                 P + timedelta(days=121))])
    counting = Counting(store)
    later = PUBLISHED + timedelta(days=120)
    result = coverage_of((_article(PUBLISHED), CoveringArticle(
        "look/dark-mode", "look/dark-mode.md", "Dark mode", later, ("dark mode",), ())),
        counting, later + timedelta(days=5), UTC_ZONE)
    assert counting.reads == [(P - timedelta(days=30), P + timedelta(days=30)),
                              (P + timedelta(days=115), P + timedelta(days=125))]
    refund, dark = result.rows
    assert (refund.days, refund.before, refund.after) == (30, Counts(1, 1, 0), Counts())
    assert (dark.days, dark.before, dark.after) == (5, Counts(1, 1, 1), Counts(1, 1, 0))
    assert dark.complete and not dark.partial


def test_the_group_is_the_one_cluster_queries_makes() -> None:
    """Membership is cluster_queries' rule with the sources as the heads, on every pair."""
    sources = ("refund policy", "refnd", "login eror", "how do i")
    spellings = ["refund policies", "refund polcy", "refunds", "refund", "refnd", "login error",
                 "logins errors", "log in error", "how do i", "how do you", "return policy",
                 "policy", "refund policy export"]
    member = covered_by([_article(PUBLISHED, *sources)])
    heads = {q: 1 for q in sources if query_key(q)}
    for query in spellings:
        clusters = cluster_queries({**heads, query: 0})
        expected = query in sources or (bool(query_key(query)) and any(
            clusters[query] is clusters[q] for q in heads))
        assert (member([query]) is not None) == expected, query


def test_days_caps_the_windows(data_dir: Path, kb_dir: Path) -> None:
    draft_and_publish(data_dir, kb_dir)
    out = ok("gaps", "--covered", "--days", "7", *UNTIL, "--data-dir",
             str(data_dir), "--kb", str(kb_dir))
    # Before: searches 21 to 39 (every 8 hours) and the one at P - 1 s, tickets after 21 and
    # 24; after: searches 0 to 18 (every 9 hours), 0 to 5 finding nothing, a ticket after 0.
    assert out.splitlines()[2] == ("    zero-result searches 20 \u2192 6, searches 20 \u2192 19, "
                                   "tickets 2 \u2192 1, over 7 days before and after 2026-11-12")


@pytest.mark.parametrize("missing", ["--kb", "--data-dir"])
def test_a_missing_folder_is_a_clear_error(data_dir: Path, kb_dir: Path, tmp_path: Path,
                                           missing: str) -> None:
    folders = {"--kb": str(kb_dir), "--data-dir": str(data_dir), missing: str(tmp_path / "no")}
    code, out, err = run("gaps", "--covered", *(x for pair in folders.items() for x in pair))
    assert code == 1 and out == ""
    assert f"{tmp_path / 'no'}" in err and "is " + missing + " right?" in err
