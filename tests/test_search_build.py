"""How a reindex builds a generation: typo vocabulary kept in step, unchanged files left alone,
parallel preparation indexing exactly what the plain path indexes."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from widget_server.articles import load_kb
from widget_server.search import SearchService, build, reindex
from widget_server.search.schema import make_schema
from widget_server.settings import Settings
from widget_server.text import stem_tokens


def slugs(index_dir: Path, query: str) -> list[str]:
    svc = SearchService(index_dir)
    try:
        return [hit.slug for hit in svc.search(query, limit=5).hits]
    finally:
        svc.close()


def test_typos_of_a_new_article_word_find_it_after_an_incremental_reindex(indexed: Settings) -> None:
    kb = Path(indexed.kb_dir)
    (kb / "billing" / "gift.md").write_text("---\ntitle: Gift wrapping\n---\nWe offer giftwrapping.\n")
    assert reindex(kb, indexed.index_dir).indexed == 1
    assert slugs(indexed.index_dir, "giftwraping")[:1] == ["billing/gift"]


def test_words_of_a_removed_article_are_no_longer_offered_as_corrections(indexed: Settings) -> None:
    kb = Path(indexed.kb_dir)
    (kb / "billing" / "gift.md").write_text("---\ntitle: Gift wrapping\n---\nWe offer giftwrapping.\n")
    reindex(kb, indexed.index_dir)
    (kb / "billing" / "gift.md").unlink()
    assert reindex(kb, indexed.index_dir).removed == 1
    svc = SearchService(indexed.index_dir)
    try:
        gen = svc.generation
        assert gen is not None
        assert "giftwrapping" not in gen.vocabulary
        assert gen.corrections("giftwraping") == []
    finally:
        svc.close()


def test_an_unchanged_file_is_not_parsed_again(indexed: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    kb = Path(indexed.kb_dir)
    parsed: list[str] = []
    original = build.parse_article

    def counting(raw: bytes, relative: Path, *rest):  # type: ignore[no-untyped-def]
        parsed.append(relative.as_posix())
        return original(raw, relative, *rest)

    monkeypatch.setattr(build, "parse_article", counting)
    (kb / "billing" / "refunds.md").write_text("---\ntitle: Refunds\n---\nNow about cashback.\n")
    result = reindex(kb, indexed.index_dir)
    # The draft is never indexed, so it is read again; every other unchanged file is not.
    assert sorted(parsed) == ["billing/refunds.md", "billing/upcoming-plan.md"]
    assert (result.indexed, result.unchanged) == (1, 6)
    assert slugs(indexed.index_dir, "cashback") == ["billing/refunds"]
    assert slugs(indexed.index_dir, "2fa")[:1] == ["account/two-factor"]  # kept as it was


def test_parallel_preparation_indexes_what_the_plain_path_does(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = Path(settings.kb_dir)
    reindex(kb, tmp_path / "plain")
    monkeypatch.setattr(build, "PREPARE_IN_PARALLEL", 1)
    monkeypatch.setattr(build.os, "cpu_count", lambda: 2)
    # The suite's live servers run threads; the workers here only render fixture articles.
    monkeypatch.setattr(build, "_may_fork", lambda: True)
    pools: list[object] = []

    def recording_pool(*args: object, **kwargs: object) -> object:
        pools.append(args)
        return ProcessPoolExecutor(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(build, "ProcessPoolExecutor", recording_pool)
    reindex(kb, tmp_path / "parallel")
    assert pools, "the build did not use worker processes"
    for query in ["pasword", "refunding", "two-fac", "express delivery", "vouchers"]:
        assert slugs(tmp_path / "parallel", query) == slugs(tmp_path / "plain", query)


def test_fast_tokens_match_whoosh_stemming_analyzer() -> None:
    # The index is built with stem_tokens while queries are stemmed by Whoosh: they must agree.
    analyzer = make_schema()["body"].analyzer
    texts = [a.render().text for a in load_kb(Path(__file__).parent / "data" / "kb").articles]
    texts.append("Héllo WORLD v1.2.3 **Settings** foo_bar İstanbul naïve 3.14 x*y ﬁle running")
    for text in texts:
        expected = [t.text for t in analyzer(text, mode="index") if not t.stopped]
        assert stem_tokens(text) == expected
