"""Search behaviour a visitor notices: typos, prefixes, stems, safety of query syntax, swaps."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from widget_server.search import ReindexBusy, SearchService, Synonyms, current_generation, reindex
from widget_server.settings import Settings


@pytest.fixture
def service(indexed: Settings):
    svc = SearchService(indexed.index_dir)
    yield svc
    svc.close()


def top(service: SearchService, q: str) -> str | None:
    hits = service.search(q, limit=3).hits
    return hits[0].slug if hits else None


@pytest.mark.parametrize(
    ("query", "slug"),
    [
        ("reset password", "account/reset-password"),
        ("pasword", "account/reset-password"),            # typo
        ("resett my pasword", "account/reset-password"),   # two typos
        ("pass", "account/reset-password"),               # prefix as you type
        ("two-fac", "account/two-factor"),                # prefix of a title word
        ("refunding", "billing/refunds"),                 # stemming
        ("2fa", "account/two-factor"),                    # tag
        ("old forgot password", "account/reset-password"),  # alias words are searchable
        ("express delivery", "billing/shipping-costs"),   # body, title from the # heading
        ("invoices", "billing/crlf"),
        ("vouchers", "billing/bom"),
    ],
)
def test_queries_find_their_article(service: SearchService, query: str, slug: str) -> None:
    assert top(service, query) == slug


TOPICS = ("printer", "router", "invoice", "parcel", "camera", "keyboard", "battery", "screen",
          "speaker", "charger", "laptop", "tablet", "headset", "monitor", "scanner")


@pytest.fixture(scope="module")
def thirty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchService]:
    """30 small articles: a setup and a troubleshooting page per topic. Every setup page
    mentions invoices in its body; only the invoice pages have the word in their title."""
    base = tmp_path_factory.mktemp("thirty")
    for topic in TOPICS:
        pages = {
            "setup": (f"Set up your {topic}", f"Unpack the {topic}, plug it in and follow the "
                      "steps. Invoices for it are under your account."),
            "fix": (f"When the {topic} stops working", f"Restart the {topic}. Check the cable "
                    "and the power. Contact us if it keeps failing."),
        }
        for kind, (title, body) in pages.items():
            path = base / "kb" / topic / f"{kind}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"---\ntitle: {title}\n---\n{body}\n", encoding="utf-8")
    (base / "kb" / "account.md").write_text(
        "---\ntitle: Change your password\n---\nChoose a new one under Settings.\n")
    reindex(base / "kb", base / "index")
    svc = SearchService(base / "index")
    yield svc
    svc.close()


@pytest.mark.parametrize("instant", [True, False], ids=["words", "finished"])
def test_title_outranks_body(thirty: SearchService, instant: bool) -> None:
    hits = thirty.search("invoice", limit=10, instant=instant).hits
    assert len(hits) == 10  # 16 articles say it: ranking decides what comes first
    assert hits[0].slug in {"invoice/setup", "invoice/fix"}
    if instant:  # words only: both title matches come before every body-only match
        assert {h.slug for h in hits[:2]} == {"invoice/setup", "invoice/fix"}


@pytest.mark.parametrize("instant", [True, False], ids=["words", "finished"])
def test_a_common_word_reaches_every_article_that_says_it(thirty: SearchService,
                                                          instant: bool) -> None:
    # The control for the syntax test below: matching (nearly) everything is possible here.
    assert thirty.search("restart", limit=5, instant=instant).total == len(TOPICS)


def test_drafts_are_never_found(service: SearchService) -> None:
    assert "billing/upcoming-plan" not in [h.slug for h in service.search("platinum", limit=10).hits]
    assert service.article("billing/upcoming-plan") is None


@pytest.mark.parametrize("query", ["*", "pass*", "body:[a TO z]", "title:password", "a OR b AND",
                                   '"unclosed', "(((", "\\", "~2", "^^^"])
@pytest.mark.parametrize("instant", [True, False], ids=["words", "finished"])
def test_query_syntax_is_plain_text(thirty: SearchService, query: str, instant: bool) -> None:
    # Must not raise, and must not become a wildcard or range over the 31 articles: at most
    # the password article, found by the words the query holds.
    result = thirty.search(query, limit=5, instant=instant)
    assert result.total <= 1
    assert {h.slug for h in result.hits} <= {"account"}


def test_field_prefix_is_just_words(service: SearchService) -> None:
    # "title:password" searches for the words title and password, nothing more.
    assert top(service, "title:password") == "account/reset-password"


def test_snippets_escape_article_text_and_only_mark(service: SearchService) -> None:
    hits = service.search("paragraph handlers", limit=3).hits
    assert hits and hits[0].slug == "hostile/hostile-markup"
    snippet = hits[0].snippet
    assert "<mark>" in snippet
    stripped = snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped


def test_synonyms_file_expands_queries(indexed: Settings, tmp_path: Path) -> None:
    synonyms = tmp_path / "synonyms.txt"
    synonyms.write_text("# groups\ncharge back, refund\n")
    svc = SearchService(indexed.index_dir, Synonyms.load(synonyms))
    try:
        assert top(svc, "charge back") == "billing/refunds"
    finally:
        svc.close()


def test_incremental_reindex_only_touches_changed_articles(indexed: Settings) -> None:
    kb = Path(indexed.kb_dir)
    assert reindex(kb, indexed.index_dir).indexed == 0
    (kb / "billing" / "refunds.md").write_text("---\ntitle: Refunds\n---\nNow about cashback.\n")
    (kb / "billing" / "shipping-costs.md").unlink()
    result = reindex(kb, indexed.index_dir)
    assert (result.indexed, result.removed) == (1, 1)
    svc = SearchService(indexed.index_dir)
    try:
        assert top(svc, "cashback") == "billing/refunds"
        assert "billing/shipping-costs" not in [h.slug for h in svc.search("express delivery").hits]
    finally:
        svc.close()


def test_full_reindex_rebuilds_everything(indexed: Settings) -> None:
    result = reindex(Path(indexed.kb_dir), indexed.index_dir, full=True)
    assert result.indexed == 7 and result.full


def test_second_reindex_is_refused_while_one_runs(indexed: Settings) -> None:
    import filelock

    lock = filelock.FileLock(str(indexed.index_dir / "reindex.lock"))
    with lock:  # another process holding the lock looks exactly like this
        with pytest.raises(ReindexBusy, match="busy"):
            reindex(Path(indexed.kb_dir), indexed.index_dir)


def test_server_follows_new_generation_without_gap(indexed: Settings) -> None:
    svc = SearchService(indexed.index_dir, check_every=0)
    kb = Path(indexed.kb_dir)
    failures: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            if top(svc, "reset password") != "account/reset-password":
                failures.append("search returned nothing during a swap")

    # Searchers are single-threaded by design: the reader runs while reindexes happen in
    # this thread, writing new generations that the reader must switch to.
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(4):
            (kb / "account" / f"extra-{n}.md").write_text(f"# Extra {n}\n\nsomething {n}\n")
            reindex(kb, indexed.index_dir)
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert svc.generation is not None and svc.generation.name == current_generation(indexed.index_dir)
    assert top(svc, "extra 3") == "account/extra-3"
    svc.close()


def _slow_reindex(kb: str, index_dir: str) -> None:
    from widget_server.search import schema

    original = schema._document

    def slow(article):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return original(article)

    schema._document = slow
    reindex(Path(kb), Path(index_dir), full=True)


def test_killed_reindex_leaves_old_index_serving(indexed: Settings) -> None:
    before = current_generation(indexed.index_dir)
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_slow_reindex, args=(indexed.kb_dir, str(indexed.index_dir)))
    proc.start()
    deadline = time.monotonic() + 30
    while not list(indexed.index_dir.glob("gen-*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(indexed.index_dir.glob("gen-*.tmp")), "the reindex never started writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert current_generation(indexed.index_dir) == before
    svc = SearchService(indexed.index_dir)
    try:
        assert top(svc, "reset password") == "account/reset-password"
    finally:
        svc.close()
    # The next reindex cleans up the debris and succeeds.
    result = reindex(Path(indexed.kb_dir), indexed.index_dir)
    assert not list(indexed.index_dir.glob("gen-*.tmp"))
    assert current_generation(indexed.index_dir) == result.generation


def test_locale_filter_falls_back_when_kb_lacks_the_language(service: SearchService) -> None:
    assert top(service, "refund") == "billing/refunds"
    assert service.search("refund", limit=3, locale="de").hits[0].slug == "billing/refunds"


def test_dotted_names_are_found_as_written(kb_dir: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    # The index keeps "duck.ai" as one word; a visitor typing it must find the article that
    # names it before articles that only say "duck" and "ai" apart.
    (kb_dir / "ai-chat.md").write_text(
        "---\ntitle: Chat limits\n---\nHow many messages you can send on duck.ai each day.\n")
    (kb_dir / "ducks.md").write_text(
        "---\ntitle: Duck facts\n---\nA duck is a bird. The ai is a sloth. Duck, ai, duck.\n")
    settings = make_settings()
    reindex(Path(settings.kb_dir), settings.index_dir)
    svc = SearchService(settings.index_dir)
    try:
        assert top(svc, "duck.ai") == "ai-chat"
        assert top(svc, "more duck.ai messages") == "ai-chat"
        assert top(svc, "duck ai") == "ducks"  # the cache must not mix the two spellings
        assert top(svc, "duck.ai") == "ai-chat"
        assert "<mark>duck.ai</mark>" in svc.search("duck.ai", limit=1).hits[0].snippet
    finally:
        svc.close()
