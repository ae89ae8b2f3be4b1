"""From gap to draft: `deskbell gaps --draft DIR` and the admin's "Draft an article" turn the
report's content gaps into markdown drafts that `deskbell check` accepts, in the visitors' own
words, with personal data removed and hostile text kept as text, never overwriting a file."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner
from starlette.testclient import TestClient

from cli.main import main
from tests.test_admin import PASSWORD, csrf_of, log_in
from tests.test_report_cli import KEEP
from widget_server.app import create_app
from widget_server.articles import load_kb, parse_article
from widget_server.events import EventStore, NewEvent
from widget_server.insights import (
    Report,
    TopGap,
    day_range,
    draft_article,
    escape_markdown,
    load_report,
    redact,
    top_gaps,
)
from widget_server.insights.drafts import PREVIOUS_ANSWERS, GapQuery, quote_markdown, ticket_draft
from widget_server.markup import render_markdown
from widget_server.tickets import JSONTicketStore, MemoryTicketStore, hash_token

DAY = datetime(2026, 3, 2, 9, tzinfo=UTC)
RANGE = ["--since", "2026-03-01", "--until", "2026-03-03", "--tz", "UTC"]
QUERY_RANGE = "since=2026-03-01&until=2026-03-03&tz=UTC"

# Personal data seeded into tickets and searches: none of it may reach a draft.
PERSONAL = ["Ada", "Lovelace", "ada.lovelace@example.com", "+44 20 7946 0958", "48213377",
            "(555) 123-4567", "billing@shop.example", "Grace", "Hopper", "grace@navy.example",
            "555 987 6543", "7946", "0958", "987 6543", "VIP", "internal"]
SCRIPT_QUERY = "how <script>alert(1)</script> works"
LINK_QUERY = "see [x](javascript:alert(1)) now"
AGENT_ANSWER = ("Hi Ada,\n\nrefunds for order 48213377 go back to your card within 5 days.\n"
                "1. Open Orders\n- choose the order\n# Call (555) 123-4567 or write to "
                "billing@shop.example. [click](javascript:alert(1)) <script>alert(1)</script>"
                "\n\nThanks, Sam")


def _sid(n: int) -> str:
    return f"s_{n:022d}"


def _ticket(ref: str, name: str, email: str, subject: str, status: str,
            thread: list[tuple[str, str, str]]) -> dict[str, Any]:
    at = DAY.isoformat()
    return {"reference": ref, "token_hash": hash_token(secrets.token_urlsafe(8)),
            "name": name, "email": email, "subject": subject, "message": thread[0][2],
            "page_url": "", "category": "Billing", "locale": "en", "trail": {},
            "status": status, "created_at": at, "updated_at": at, "first_reply_at": at,
            "solved_at": at if status == "solved" else None, "closed_at": None,
            "resolution_count": int(status == "solved"), "ratings": [],
            "thread": [{"id": f"{ref}-{i}", "author": author, "author_name": who, "body": body,
                        "at": at} for i, (author, who, body) in enumerate(thread)]}


TICKETS = [
    _ticket("DB-AAAA-0001-SEED", "Ada Lovelace", "ada.lovelace@example.com",
            "Refund for order 48213377, Ada here", "solved",
            [("visitor", "Ada Lovelace", "My order 48213377 never came. Call me on "
                                         "+44 20 7946 0958 or ada.lovelace@example.com"),
             ("agent", "Sam", "Looking into it, Ada."),
             ("note", "Sam", "internal: Ada is a VIP, call 555 987 6543"),
             ("agent", "Sam", AGENT_ANSWER)]),
    _ticket("DB-AAAA-0002-SEED", "Grace Hopper", "grace@navy.example",
            "How do I get my money back, Grace Hopper?", "pending",
            [("visitor", "Grace Hopper", "Where is my money? grace@navy.example"),
             ("agent", "Sam", "Hello Grace, the pending answer that must not be quoted.")]),
]


def _seed(data_dir: Path) -> None:
    """Searches and tickets of one day: a refund gap with two tickets (one solved with an
    answer), misspellings, a synonym-only gap, hostile and personal queries."""
    events = EventStore(data_dir, retention_days=3650)
    batch: list[NewEvent] = []

    def search(session: int, query: str, results: int, minute: int) -> None:
        batch.append(NewEvent(_sid(session), "search", {"query": query, "results": results},
                              DAY + timedelta(minutes=minute)))

    search(1, "refund", 0, 0)
    batch.append(NewEvent(_sid(1), "ticket_created", {"reference": TICKETS[0]["reference"]},
                          DAY + timedelta(minutes=2)))
    search(2, "refunds", 0, 5)
    batch.append(NewEvent(_sid(2), "ticket_created", {"reference": TICKETS[1]["reference"]},
                          DAY + timedelta(minutes=7)))
    for n in range(3, 6):
        search(n, "refnd", 0, 10 + n)
    for n in range(6, 8):
        search(n, SCRIPT_QUERY, 0, 20 + n)
    search(8, LINK_QUERY, 0, 30)
    search(9, "order 48213377 for ada.lovelace@example.com", 0, 31)
    search(10, "call +44 20 7946 0958", 0, 32)
    search(11, "shipping", 2, 33)
    search(12, "shiping", 0, 34)  # another spelling finds articles: a synonym, no draft
    events.append_many(batch)
    tickets = JSONTicketStore(data_dir)
    for ticket in TICKETS:
        tickets.add(ticket)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    _seed(path)
    return path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=KEEP)
    return result.exit_code, result.stdout, result.stderr


def _gaps(data_dir: Path, kb: Path, *more: str) -> tuple[int, str]:
    code, out, err = _run("gaps", "--data-dir", str(data_dir), "--kb", str(kb), *RANGE, *more)
    assert code == 0, out + err
    return code, out


def _split(text: str) -> tuple[dict[str, Any], str]:
    _, front, body = text.split("---\n", 2)
    return yaml.safe_load(front), body


def _report(data_dir: Path) -> Report:
    tz = ZoneInfo("UTC")
    since, until = day_range(DAY.date() - timedelta(days=1), DAY.date() + timedelta(days=1), tz)
    return load_report(EventStore(data_dir, retention_days=3650), JSONTicketStore(data_dir),
                       since, until, tz)


def _assert_private(text: str) -> None:
    for secret in PERSONAL:
        assert secret.casefold() not in text.casefold(), secret


# --- redact ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "names", "expected"), [
    ("mail ada.lovelace@example.com now", (), "mail [email] now"),
    ("Ünïcode josé+tag@exämple.co.uk.", (), "Ünïcode [email]."),
    ("call +44 20 7946 0958 today", (), "call [phone] today"),
    ("call (555) 123-4567", (), "call [phone]"),
    ("or 555.123.4567 or 06 12 34 56 78", (), "or [phone] or [phone]"),
    ("order #48213377 and ORD-88231", (), "order #[number] and ORD-[number]"),
    ("ref A1234567", (), "ref A[number]"),
    ("on 2026-03-01, 3 items for 12 euros in 2025", (), "on 2026-03-01, 3 items for 12 euros in 2025"),
    ("Ada Lovelace wrote; ada said LOVELACE", ("Ada Lovelace",), "[name] wrote; [name] said [name]"),
    ("Adam is not Ada", ("Ada",), "Adam is not [name]"),
    ("my phone, Phone", ("Phone",), "my [name], [name]"),
    ("call +44 20 7946 0958, Phone", ("Phone",), "call [phone], [name]"),
    ("x <img src=x>\u202eevil y", ('<img src=x>\u202eevil',), "x [name] y"),
    ("a b", ("",), "a b"),
])
def test_redact_replaces_personal_data(text: str, names: tuple[str, ...], expected: str) -> None:
    assert redact(text, names) == expected


def test_redact_leaves_no_seeded_personal_data() -> None:
    names = [t["name"] for t in TICKETS]
    for ticket in TICKETS:
        for text in [ticket["subject"], *(e["body"] for e in ticket["thread"])]:
            cleaned = redact(text, names)
            for secret in ["@", "7946", "48213377", "123-4567", "987 6543", "Ada", "Grace"]:
                assert secret not in cleaned, (text, cleaned)


# --- markdown that stays text ------------------------------------------------------------------


HOSTILE = [
    SCRIPT_QUERY, LINK_QUERY, "![img](https://evil.example/x.png)", "<https://evil.example>",
    "[ref]: javascript:alert(1)", "*bold* _it_ `code` ~~~", "# not a heading", "1. not a list",
    "- not a list", "+ no", "> not a quote", "=== not setext", "~~~ no fence", "a | b | c",
    "&lt;script&gt; stays &amp; as typed", "[TOC]", "c# and f#", "<!-- comment -->",
    "\\]\\(javascript:alert(1)\\)", "    indented code",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_visitor_text_renders_as_that_text(text: str) -> None:
    for markdown in (f"## {escape_markdown(text)}", escape_markdown(text),
                     f"x\n{escape_markdown(text)}", quote_markdown(f"first\n{text}\n\n{text}")):
        rendered = render_markdown(markdown)
        assert not re.search(r"<(?!/?(h2|p|blockquote|br)\b)", rendered.html), rendered.html
        assert "javascript:" not in rendered.html or "href" not in rendered.html
    assert render_markdown(escape_markdown(text)).text == " ".join(text.split())
    assert render_markdown(f"## {escape_markdown(text)}").headings == [" ".join(text.split())]


def test_a_quote_keeps_its_lines_and_paragraphs() -> None:
    html = render_markdown(quote_markdown("one\ntwo\n\nthree")).html
    assert html.count("<br") == 1 and html.count("<p>") == 2 and "<blockquote>" in html


# --- choosing the gaps -------------------------------------------------------------------------


def test_top_gaps_come_from_the_report_ticket_gaps_first(data_dir: Path) -> None:
    report = _report(data_dir)
    found = top_gaps(report)
    refund = found[0]
    assert refund.query in {"refund", "refunds"}
    assert {v.query for v in refund.variants} == {"refund", "refunds", "refnd"}
    assert refund.tickets == 2 and refund.searches == 5
    assert set(refund.references) == {t["reference"] for t in TICKETS}
    zero = {z.query: z for z in report.gaps.zero_results}
    assert zero["shiping"].action == "add a synonym or alias"
    assert not any(g.has("shiping") for g in found)  # a synonym, not an article
    for gap in found[1:]:
        z = zero[gap.query]
        assert (gap.searches, gap.tickets, gap.actions) == (z.searches, 0, (z.action,))
    assert len(top_gaps(report, 2)) == 2


# --- deskbell gaps --draft ---------------------------------------------------------------------


@pytest.fixture
def drafted(data_dir: Path, kb_dir: Path) -> tuple[Path, str]:
    """Drafts written into a folder of a copy of the test knowledge base."""
    _, out = _gaps(data_dir, kb_dir, "--draft", str(kb_dir / "drafts"), "--limit", "10")
    return kb_dir / "drafts", out


def test_gaps_lists_the_gaps_and_what_gets_no_draft(data_dir: Path, kb_dir: Path) -> None:
    _, out = _gaps(data_dir, kb_dir)
    lines = out.splitlines()
    assert lines[0] == "Content gaps 2026-03-01 to 2026-03-03 (UTC), worth an article:"
    assert re.match(r"  1\. refunds? \(also: .*\): 5 searches found nothing, 2 tickets followed "
                    r"a search -> write an article", lines[1])
    assert "  shiping: 1 searches found nothing -> add a synonym or alias" in lines
    assert "wrote" not in out


def test_drafts_are_written_one_per_gap_and_pass_deskbell_check(drafted, kb_dir) -> None:
    folder, out = drafted
    files = sorted(p.name for p in folder.iterdir())
    assert not [f for f in files if f.startswith(".")]  # no temporary file left behind
    assert len(files) == 5 and ("refund.md" in files or "refunds.md" in files)
    assert out.splitlines()[-1] == "drafts: 5 written, 0 skipped"
    for name in files:
        assert f"wrote {folder / name}" in out
    code, stdout, stderr = _run("check", "--kb", str(kb_dir))
    assert code == 0, stdout + stderr
    assert f"{kb_dir}/drafts/" not in stdout  # not an error, not a warning
    assert re.search(r"\d+ articles \(6 drafts\), 0 errors", stderr)
    alone, stdout, stderr = _run("check", "--kb", str(folder))
    assert alone == 0 and stdout == "" and "(5 drafts), 0 errors, 0 warnings" in stderr
    kb = load_kb(kb_dir)
    assert not [p for p in kb.problems if p.path.startswith("drafts/")]
    assert all(a.draft for a in kb.articles if a.path.startswith("drafts/"))


def test_no_draft_holds_personal_data(drafted) -> None:
    folder, _ = drafted
    for path in folder.iterdir():
        _assert_private(path.read_text(encoding="utf-8"))


def test_the_refund_draft_front_matter(drafted) -> None:
    folder, _ = drafted
    path = next(p for p in folder.iterdir() if p.name in {"refund.md", "refunds.md"})
    front, _ = _split(path.read_text(encoding="utf-8"))
    assert front["title"] in {"Refund", "Refunds"} and front["draft"] is True
    assert set(front["tags"]) == {"refund", "refunds", "refnd"}
    assert set(front["aliases"]) == {"refund", "refunds", "refnd"} - {path.stem}
    sources = front["sources"]
    assert sources["range"] == "2026-03-01 to 2026-03-03 (UTC)"
    assert {q["query"]: (q.get("no_results", 0), q.get("then_ticket", 0))
            for q in sources["queries"]} == {"refund": (1, 1), "refunds": (1, 1),
                                               "refnd": (3, 0)}
    assert set(sources["tickets"]) == {t["reference"] for t in TICKETS}
    assert sources["actions"] == ["write an article"]
    article, problems = parse_article(path.read_bytes(), Path("drafts") / path.name)
    assert article is not None and problems == [] and article.draft
    assert article.slug == f"drafts/{path.stem}" and article.title == front["title"]


def test_the_refund_draft_body(drafted) -> None:
    folder, _ = drafted
    path = next(p for p in folder.iterdir() if p.name in {"refund.md", "refunds.md"})
    _, body = _split(path.read_text(encoding="utf-8"))
    rendered = render_markdown(body)
    # one heading for the searches (their spellings are one question), one per ticket
    # subject, each redacted and in the visitor's words
    assert rendered.headings == [
        rendered.headings[0], "Refund for order [number], [name] here",
        "How do I get my money back, [name]?", PREVIOUS_ANSWERS]
    assert rendered.headings[0] in {"Refund", "Refunds"}
    answer = body.split(f"## {PREVIOUS_ANSWERS}")[1]
    assert "refunds for order \\[number\\] go back to your card within 5 days" in answer
    assert "Looking into it" not in body  # the last agent reply is the answer
    assert "pending answer" not in body  # a ticket that is not solved or closed
    assert "DB-AAAA-0001-SEED (solved)" in answer
    html = render_markdown(answer).html
    assert "<blockquote>" in html and "<a " not in html and "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "[click](javascript:alert(1))" in render_markdown(answer).text
    assert "<ol>" not in html and "<ul>" not in html and "<h1" not in html


def test_hostile_queries_stay_text_in_their_drafts(drafted) -> None:
    folder, _ = drafted
    drafts = [_split(p.read_text(encoding="utf-8")) for p in folder.iterdir()]
    hostile = [(front, body) for front, body in drafts if "alert" in front["title"]]
    assert len(hostile) == 2
    for front, body in hostile:
        rendered = render_markdown(body)
        assert "<script" not in rendered.html and "<a " not in rendered.html
        assert rendered.headings[0] in {"How <script>alert(1)</script> works",
                                        "See [x](javascript:alert(1)) now"}
        assert front["title"] == rendered.headings[0]
        assert all(re.fullmatch(r"[a-z0-9-]+", t) for t in front["tags"])
        assert "aliases" not in front  # the one spelling is the file's own name
    titles = {front["title"]: front for front, _ in drafts}
    assert titles["Order [number] for [email]"]["tags"] == ["order-number-for-email"]
    assert titles["Call [phone]"]["tags"] == ["call-phone"]


def test_an_existing_file_is_never_overwritten(data_dir: Path, kb_dir: Path) -> None:
    folder = kb_dir / "drafts"
    folder.mkdir()
    mine = "---\ntitle: Mine\n---\nMy own words.\n"
    _, first = _gaps(data_dir, kb_dir, "--draft", str(folder))
    written = sorted(folder.iterdir())
    (written[0]).write_text(mine, encoding="utf-8")
    before = {p: p.read_bytes() for p in written}
    code, out, _ = _run("gaps", "--data-dir", str(data_dir), "--kb", str(kb_dir), *RANGE,
                        "--draft", str(folder))
    assert code == 0
    assert {p: p.read_bytes() for p in sorted(folder.iterdir())} == before
    assert f"skipped {written[0]}: the file exists (not overwritten)" in out
    assert out.splitlines()[-1] == f"drafts: 0 written, {len(written)} skipped"
    assert first.splitlines()[-1] == f"drafts: {len(written)} written, 0 skipped"


def test_a_draft_folder_that_is_a_file_is_refused(data_dir: Path, kb_dir: Path) -> None:
    target = kb_dir / "file.md"
    target.write_text("x", encoding="utf-8")
    code, out, err = _run("gaps", "--data-dir", str(data_dir), "--kb", str(kb_dir), *RANGE,
                          "--draft", str(target))
    assert code != 0 and "file.md" in out + err


# --- one draft, directly -----------------------------------------------------------------------


def test_the_title_is_spelt_as_the_knowledge_base_spells_it() -> None:
    # Visitors typed "refnd" most often; the KB says "refund": the title takes the KB's word.
    gap = TopGap("refnd", (GapQuery("refnd", 5, 2), GapQuery("refund", 3, 1),
                           GapQuery("refunds", 1, 0)), 9, 3, (), ("write an article",))
    known = {"refund", "refunds", "billing", "money"}
    assert draft_article(gap, MemoryTicketStore().get, known=known).title == "Refund"
    assert draft_article(gap, MemoryTicketStore().get).title == "Refnd"  # no vocabulary
    unknown = TopGap("zorbl", (GapQuery("zorbl", 2, 0),), 2, 0, (), ("write an article",))
    assert draft_article(unknown, MemoryTicketStore().get, known=known).title == "Zorbl"


def test_aliases_skip_slugs_in_use_and_the_draft_itself() -> None:
    gap = TopGap("refund", (GapQuery("refund", 2, 0), GapQuery("refunds", 1, 0),
                            GapQuery("??", 1, 0)), 4, 0, (), ("write an article",))
    draft = draft_article(gap, MemoryTicketStore().get, taken={"refunds"})
    front, _ = _split(draft.text)
    assert draft.slug == "refund" and draft.filename == "refund.md"
    assert "aliases" not in front and front["tags"] == ["refund", "refunds"]
    in_folder = draft_article(gap, MemoryTicketStore().get, prefix="billing")
    assert in_folder.aliases == ("refunds",)  # never its own name, wherever it moves
    again = draft_article(gap, MemoryTicketStore().get, files={"refund"})
    assert again.slug == "refund-2"
    nothing = TopGap("返金", (GapQuery("返金", 1, 0),), 1, 0, (), ("write an article",))
    assert draft_article(nothing, MemoryTicketStore().get).slug == "draft"


def test_only_solved_or_closed_tickets_with_an_agent_reply_are_quoted() -> None:
    tickets = {
        "DB-1": _ticket("DB-1", "Lin", "l@x.example", "Can I pay by invoice?", "closed",
                        [("visitor", "Lin", "Invoice?"), ("agent", "Sam", "Yes, on request.")]),
        "DB-2": _ticket("DB-2", "Mo", "m@x.example", "Invoice please", "solved",
                        [("visitor", "Mo", "Invoice?"), ("note", "Sam", "sent by hand")]),
        "DB-3": _ticket("DB-3", "Noa", "n@x.example", "Invoices?", "open",
                        [("visitor", "Noa", "?"), ("agent", "Sam", "Checking.")]),
        "DB-4": _ticket("DB-4", "Ola", "o@x.example", "Pay by invoice", "solved",
                        [("visitor", "Ola", "?"), ("agent", "Sam", "Yes, on request.")]),
    }
    gap = TopGap("invoice", (GapQuery("invoice", 0, 4),), 0, 4, (*tickets, "DB-GONE"),
                 ("write an article",))
    draft = draft_article(gap, tickets.get)
    answers = draft.text.split(f"## {PREVIOUS_ANSWERS}\n")[1]
    assert answers == "\n> Yes, on request.\n\n_From ticket DB-1 (closed)._\n"  # once
    assert "sent by hand" not in draft.text and "Checking" not in draft.text
    quiet = draft_article(gap, {"DB-3": tickets["DB-3"]}.get)
    assert PREVIOUS_ANSWERS not in quiet.text


# --- the admin download ------------------------------------------------------------------------


@pytest.fixture
def admin(make_settings, data_dir: Path) -> Iterator[TestClient]:
    settings = make_settings(admin_password=PASSWORD, events_retention_days=3650,
                             data_dir=str(data_dir))
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def _draft(client: TestClient, query: str, csrf: str | None) -> Any:
    data = {"query": query} if csrf is None else {"query": query, "csrf": csrf}
    return client.post(f"/admin/insights/draft?{QUERY_RANGE}", data=data)


def test_the_download_needs_a_login_and_its_csrf_token(admin: TestClient) -> None:
    assert _draft(admin, "refund", None).status_code == 403
    assert _draft(admin, "refund", "guess").status_code == 403
    page = admin.get(f"/admin/insights?{QUERY_RANGE}")
    assert page.status_code == 303 and page.headers["location"].startswith("/admin/login")
    log_in(admin)
    assert _draft(admin, "refund", None).status_code == 403
    assert _draft(admin, "refund", "guess").status_code == 403
    assert admin.app.url_path_for("admin_draft") == "/admin/insights/draft"  # type: ignore[attr-defined]


def test_the_admin_downloads_the_draft_of_a_gap(admin: TestClient, data_dir: Path,
                                                 kb_dir: Path) -> None:
    log_in(admin)
    page = admin.get(f"/admin/insights?{QUERY_RANGE}")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    answer = _draft(admin, "refnd", csrf)  # any spelling of the gap
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
    name = re.fullmatch(r'attachment; filename="(refunds?\.md)"',
                        answer.headers["content-disposition"])
    assert name and answer.headers["cache-control"] == "no-store"
    _assert_private(answer.text)
    assert "Refund for order \\[number\\], \\[name\\] here" in answer.text
    front, _ = _split(answer.text)
    assert front["draft"] is True and front["title"] in {"Refund", "Refunds"}
    _gaps(data_dir, kb_dir, "--draft", str(kb_dir / "out"))
    written = (kb_dir / "out" / name.group(1)).read_text(encoding="utf-8")
    assert _split(written)[1] == _split(answer.text)[1]  # the same body as deskbell gaps
    assert _draft(admin, "shiping", csrf).status_code == 404  # a synonym: no draft
    assert _draft(admin, "never searched", csrf).status_code == 404
    assert _draft(admin, "", csrf).status_code == 400
    hostile = _draft(admin, SCRIPT_QUERY, csrf)
    assert hostile.status_code == 200
    front, body = _split(hostile.text)
    # the title is front-matter data, escaped wherever it is shown; the body is markdown
    assert front["title"] == "How <script>alert(1)</script> works" and "<script>" not in body


def test_the_insights_page_offers_a_draft_per_gap_worth_one(admin: TestClient) -> None:
    log_in(admin)
    html = admin.get(f"/admin/insights?{QUERY_RANGE}").text
    forms = re.findall(r'<form method="post" action="/admin/insights/draft\?([^"]+)">\s*'
                       r'<input type="hidden" name="csrf" value="[^"]+">'
                       r'<input type="hidden" name="query" value="([^"]*)">\s*'
                       r'<button type="submit"[^>]*>Draft an article</button></form>', html)
    assert all(action == QUERY_RANGE.replace("&", "&amp;") for action, _ in forms)
    queries = [q for _, q in forms]
    # a form on every row of a gap worth an article, in both tables; none for a synonym
    assert len(queries) == 6 and len({"refund", "refunds"} & set(queries)) == 1
    assert set(queries) - {"refund", "refunds"} == {
        "refnd", "how &lt;script&gt;alert(1)&lt;/script&gt; works",
        "see [x](javascript:alert(1)) now", "order 48213377 for ada.lovelace@example.com",
        "call +44 20 7946 0958"}
    assert "shiping" in html and "shiping" not in queries
    assert "<script>alert(1)" not in html


# --- a draft from one answered ticket ----------------------------------------------------------

SOLVED, PENDING = TICKETS[0]["reference"], TICKETS[1]["reference"]
TICKET_FORM = re.compile(r'<form method="post" action="/admin/tickets/([^/"]+)/draft" '
                         r'class="draft-form">\s*<input type="hidden" name="csrf" '
                         r'value="[^"]+">\s*<p><button type="submit">Draft an article</button>')


def _ticket_draft(client: TestClient, reference: str, csrf: str | None) -> Any:
    return client.post(f"/admin/tickets/{reference}/draft",
                       data={} if csrf is None else {"csrf": csrf})


def test_a_solved_ticket_downloads_as_a_draft_without_personal_data(
        admin: TestClient, kb_dir: Path) -> None:
    log_in(admin)
    page = admin.get(f"/admin/tickets/{SOLVED}")
    assert TICKET_FORM.findall(page.text) == [SOLVED]
    answer = _ticket_draft(admin, SOLVED, csrf_of(page.text))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
    assert answer.headers["content-disposition"] == \
        'attachment; filename="refund-for-order-number-name-here.md"'
    assert answer.headers["cache-control"] == "no-store"
    _assert_private(answer.text)
    assert "Sam" not in answer.text  # the agent's signature neither
    front, body = _split(answer.text)
    assert front == {"title": "Refund for order [number], [name] here", "draft": True,
                     "sources": {"tickets": [SOLVED],
                                 "queries": [{"query": "Refund for order [number], [name] here"}],
                                 "actions": ["write an article"]}}
    question, previous = body.split(f"## {PREVIOUS_ANSWERS}\n")
    assert "## Refund for order \\[number\\], \\[name\\] here\n" in question
    assert ("The visitor wrote:\n\n> My order \\[number\\] never came. Call me on \\[phone\\] "
            "or \\[email\\]\n") in question
    assert previous.startswith("\n> Hi \\[name\\],\n>\n> refunds for order \\[number\\] go "
                               "back to your card within 5 days.  \n> 1\\. Open Orders")
    assert previous.endswith(f"> Thanks, \\[name\\]\n\n_From ticket {SOLVED} (solved)._\n")
    assert "Looking into it" not in body and "VIP" not in body  # the last reply, no note
    html = render_markdown(body).html
    assert "<script" not in html and "javascript:" not in html.replace("(javascript:", "")
    # `deskbell check` accepts it in a knowledge base as it is downloaded
    (kb_dir / "drafts").mkdir()
    (kb_dir / "drafts" / "refund-for-order-number-name-here.md").write_bytes(answer.content)
    code, out, err = _run("check", "--kb", str(kb_dir))
    assert code == 0 and "drafts/" not in out, out + err
    kb = load_kb(kb_dir)
    drafted = next(a for a in kb.articles if a.path.startswith("drafts/"))
    assert drafted.draft and drafted.title == front["title"]
    assert not [p for p in kb.problems if p.path.startswith("drafts/")]


def test_the_ticket_draft_needs_a_login_and_its_csrf_token(admin: TestClient) -> None:
    assert _ticket_draft(admin, SOLVED, None).status_code == 403
    assert _ticket_draft(admin, SOLVED, "guess").status_code == 403
    log_in(admin)
    assert _ticket_draft(admin, SOLVED, None).status_code == 403
    forged = _ticket_draft(admin, SOLVED, "guess")
    assert forged.status_code == 403 and "Refund" not in forged.text


def test_a_ticket_not_solved_or_closed_has_no_draft_action(admin: TestClient) -> None:
    log_in(admin)
    page = admin.get(f"/admin/tickets/{PENDING}")
    assert page.status_code == 200 and "Draft an article" not in page.text
    refused = _ticket_draft(admin, PENDING, csrf_of(page.text))
    assert refused.status_code == 409
    assert "Only a solved or closed ticket with an agent" in refused.text
    assert _ticket_draft(admin, "DB-NONE-0000-0000", csrf_of(page.text)).status_code == 404


def test_a_ticket_solved_without_an_agent_reply_has_no_draft_action(
        admin: TestClient) -> None:
    state = admin.app.state.services  # type: ignore[attr-defined]
    state.tickets.add(_ticket("DB-AAAA-0003-SEED", "Lin", "lin@x.example", "Invoice?",
                              "closed", [("visitor", "Lin", "Invoice?"),
                                         ("note", "Sam", "sent by post")]))
    log_in(admin)
    page = admin.get("/admin/tickets/DB-AAAA-0003-SEED")
    assert page.status_code == 200 and "Draft an article" not in page.text
    assert _ticket_draft(admin, "DB-AAAA-0003-SEED", csrf_of(page.text)).status_code == 409


def test_the_visitors_searches_are_the_drafts_queries_and_hostile_text_stays_text() -> None:
    ticket = _ticket("DB-X", "Mo Salah", "mo.salah@x.example", SCRIPT_QUERY, "closed",
                     [("visitor", "Mo Salah", f"{LINK_QUERY}\n# not a heading\nI am mo.salah"),
                      ("agent", "Kim Lee", "Yes <b>Mo</b>, see ![x](https://evil.example/x)."
                                           "\n\nKim")])
    ticket["trail"] = {"searches": [{"q": "refund mo", "results": 0},
                                    {"q": "call 555 987 6543", "results": 0},
                                    {"q": "refund mo", "results": 0}]}
    made = ticket_draft(ticket, taken={"how-script-alert-1-script-works"})
    assert made.filename == "how-script-alert-1-script-works-2.md"  # a slug in use is skipped
    front, body = _split(made.text)
    assert front["title"] == "How <script>alert(1)</script> works"  # data, escaped when shown
    assert front["sources"]["queries"] == [{"query": "refund [name]"},
                                           {"query": "call [phone]"}]
    assert front["tags"] == ["refund-name", "call-phone"]
    for secret in ("Mo", "Salah", "Kim", "Lee", "mo.salah", "6543"):
        assert not re.search(rf"\b{re.escape(secret)}\b", body), secret
    html = render_markdown(body).html
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "<h1" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    with pytest.raises(ValueError, match="solved or closed"):
        ticket_draft({**ticket, "status": "open"})
