"""Search quality on real help centers: success@1, success@3, MRR@10 per query kind, answered
rate, lost and wrong answers for answerable queries and abstain rate for off-topic ones, per
search configuration.

Scoring is widget_server.evaluation's, the same as `deskbell eval`. Configurations, measured on
the same articles and queries in the same run:

- plain whoosh: Whoosh defaults (title + body, StandardAnalyzer, MultifieldParser with its
  default AND grouping, BM25F);
- plain whoosh or: the same with OR grouping;
- deskbell words only: Deskbell's search with `semantic = false` (no vectors, no model);
- deskbell: Deskbell's search as shipped (words and meaning), built with the normal reindex.

Plain Whoosh has no answer card: for it "answered" means it returned any hit, so its abstain
rate is the share of off-topic queries with no results at all. For Deskbell, "answered" means
the search gave a quoted answer (`SearchResult.answer`). Two more shares of the answerable
queries say how the answer card errs, for the configurations that have one: lost (the right
article is first but no answer is given) and wrong (an answer is given while the first article
is not a right one). `deskbell eval`'s "lost answers" is broader: every answerable query left
without an answer, whatever its rank.

    .venv/bin/python -m benchmarks.search_quality [--queries FILE ...] [--corpus DIR] [--json OUT]
    .venv/bin/python -m benchmarks.search_quality --multilingual [--json OUT]

`--multilingual` scores search in other languages instead: the Disroot guides in English, French,
Spanish and German in one knowledge base (each article's locale from its file name,
`docs.fr.md`), the sets disroot-{fr,es,de}.json asked with their `locale` and disroot.json with
locale en, under four configurations built in the same run:

- english analysis words only / english analysis: every article and query analyzed as
  English, as Deskbell did before languages (`reindex(per_locale=False)`), by words and with
  the model reading every language;
- per-locale words only / per-locale: each language analyzed as itself; the model ranks the
  English articles only, so the other languages rank by words in both.

Query sets (benchmarks/queries/): arduino.json, duckduckgo.json, disroot.json; all three by
default. Each names its corpus, found under benchmarks/corpora/ unless --corpus says otherwise
(only with one --queries). --json writes {config: {kind: figures}} for one set, and
{set: {config: {kind: figures}}} for several.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.fields import ID, STORED, TEXT, Schema
from whoosh.qparser import AndGroup, MultifieldParser, OrGroup
from whoosh.qparser.syntax import GroupNode

from widget_server.articles import Article, KnowledgeBase, load_kb
from widget_server.evaluation import (
    ALL,
    TOP,
    EvalQuery,
    Evaluation,
    Outcome,
    Ranking,
    Searcher,
    deskbell_searcher,
    evaluate,
    load_queries,
    temporary_index,
)
from widget_server.search import SearchService, reindex

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO / "benchmarks" / "corpora"
QUERIES = REPO / "benchmarks" / "queries"
# Where each corpus keeps its articles (duckduckgo-help's 31 redirect stubs have no title:
# reindex skips them with a reason, as it would any untitled file).
CORPUS_DIRS = {"arduino-help": CORPORA / "arduino-help" / "content",
               "duckduckgo-help": CORPORA / "duckduckgo-help" / "_docs",
               "disroot-howto": CORPORA / "disroot-howto" / "pages"}
DEFAULT_SETS = [QUERIES / "arduino.json", QUERIES / "duckduckgo.json", QUERIES / "disroot.json"]
MULTILINGUAL = CORPORA / "disroot-howto-multilingual" / "pages"
MULTILINGUAL_SETS = [QUERIES / "disroot-fr.json", QUERIES / "disroot-es.json",
                     QUERIES / "disroot-de.json", QUERIES / "disroot.json"]


@contextmanager
def plain_whoosh(kb: KnowledgeBase, group: type[GroupNode] = AndGroup) -> Iterator[Searcher]:
    with tempfile.TemporaryDirectory(prefix="plain-whoosh-") as work:
        schema = Schema(slug=ID(stored=True), name=STORED, title=TEXT, body=TEXT)
        ix = whoosh_index.create_in(work, schema)
        writer = ix.writer()
        for article in kb.public():
            writer.add_document(slug=article.slug, name=article.title, title=article.title,
                                body=article.render().text)
        writer.commit()
        parser = MultifieldParser(["title", "body"], ix.schema, group=group)
        with ix.searcher() as searcher:

            def search(q: str) -> Ranking:
                hits = list(searcher.search(parser.parse(q), limit=10))
                return Ranking(slugs=[h["slug"] for h in hits], titles=[h["name"] for h in hits],
                               answered=bool(hits))

            yield search


@contextmanager
def deskbell(kb: KnowledgeBase, semantic: bool = True) -> Iterator[Searcher]:
    with temporary_index(kb, semantic=semantic) as service:
        yield deskbell_searcher(service)


@dataclass(frozen=True)
class Config:
    name: str
    build: Callable[[KnowledgeBase], Any]  # a context manager yielding a Searcher
    answers: bool = True  # whether "answered" is an answer card (not just any hit)


# One line per configuration: a new ranking is one more entry here.
CONFIGS = [
    Config("plain whoosh", plain_whoosh, answers=False),
    Config("plain whoosh or", lambda kb: plain_whoosh(kb, OrGroup), answers=False),
    Config("deskbell words only", lambda kb: deskbell(kb, semantic=False)),
    Config("deskbell", deskbell),
]
ANSWER_CARDS = {c.name for c in CONFIGS if c.answers}


def answer_errors(outcomes: list[Outcome]) -> tuple[float | None, float | None]:
    """(lost, wrong) over the answerable queries: right article first but no answer, and an
    answer while the first article is not a right one."""
    answerable = [o for o in outcomes if o.query.answers]
    if not answerable:
        return None, None
    lost = sum(o.rank == 1 and not o.ranking.answered for o in answerable)
    wrong = sum(o.ranking.answered and o.rank != 1 for o in answerable)
    return lost / len(answerable), wrong / len(answerable)


def timed(search: Searcher, elapsed: list[float]) -> Searcher:
    def run(q: str) -> Ranking:
        started = time.perf_counter()
        ranking = search(q)
        elapsed.append((time.perf_counter() - started) * 1000)
        return ranking

    return run


def run_config(config: Config, kb: KnowledgeBase,
               queries: list[EvalQuery]) -> tuple[Evaluation, float]:
    elapsed: list[float] = []
    with config.build(kb) as search:
        evaluation = evaluate(timed(search, elapsed), queries)
    return evaluation, statistics.median(elapsed)


def _of_kind(evaluation: Evaluation, kind: str) -> list[Outcome]:
    return [o for o in evaluation.outcomes if kind == ALL or o.query.kind == kind]


def as_json(evaluation: Evaluation, median_ms: float, answers: bool) -> dict[str, dict[str, Any]]:
    out = {kind: figures.as_dict() for kind, figures in evaluation.by_kind.items()}
    for kind, figures in out.items():
        lost, wrong = answer_errors(_of_kind(evaluation, kind)) if answers else (None, None)
        figures["lost"], figures["wrong"] = lost, wrong
    out[ALL]["median_ms"] = median_ms
    return out


def _cell(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.2f}"


def print_table(name: str, corpus: str, results: dict[str, tuple[Evaluation, float]]) -> None:
    first = next(iter(results.values()))[0]
    kinds = [k for k in first.by_kind if k != ALL] + [ALL]
    total = len(first.outcomes)
    print(f"\n{name}: {total} queries on {corpus}")
    print("  s@1, s@3, MRR@10, answered, lost (right first, no answer) and wrong (answered,"
          " first not right)\n  over answerable queries (n); abstain over offtopic")
    print(f"  {'kind':<10}{'n':>4}  {'config':<20}{'s@1':>6}{'s@3':>6}{'MRR':>6}"
          f"{'answ':>6}{'lost':>6}{'wrong':>6}{'abst':>6}{'ms p50':>8}")
    for kind in kinds:
        for i, (config, (evaluation, ms)) in enumerate(results.items()):
            f = evaluation.by_kind[kind]
            n = f.answerable or f.no_answer
            label = f"{kind:<10}{n:>4}" if i == 0 else " " * 14
            timing = f"{ms:>8.1f}" if kind == ALL else ""
            lost, wrong = (answer_errors(_of_kind(evaluation, kind)) if config in ANSWER_CARDS
                           else (None, None))
            print(f"  {label}  {config:<20}{_cell(f.success_at_1):>6}{_cell(f.success_at_3):>6}"
                  f"{_cell(f.mrr_at_10):>6}{_cell(f.answered):>6}{_cell(lost):>6}"
                  f"{_cell(wrong):>6}{_cell(f.abstain):>6}{timing}")


def run_set(path: Path, corpus_dir: Path | None) -> dict[str, dict[str, Any]]:
    corpus = json.loads(path.read_text(encoding="utf-8"))["corpus"]
    kb = load_kb(corpus_dir or CORPUS_DIRS[corpus])
    queries = load_queries(path, kb)
    results = {config.name: run_config(config, kb, queries) for config in CONFIGS}
    print_table(path.name, corpus, results)
    return {name: as_json(evaluation, ms, name in ANSWER_CARDS)
            for name, (evaluation, ms) in results.items()}


def multilingual_kb() -> tuple[list[Article], dict[str, KnowledgeBase]]:
    """The English guides and their French, Spanish and German translations as one knowledge
    base (each article's locale from its file name), and each corpus's own KnowledgeBase to
    resolve its query set's answers against."""
    english, others = load_kb(CORPUS_DIRS["disroot-howto"]), load_kb(MULTILINGUAL)
    articles = [dataclasses.replace(a, locale=a.path.rsplit(".", 2)[-2])
                for kb in (english, others) for a in kb.public()]
    return articles, {"disroot-howto": english, "disroot-howto-multilingual": others}


@contextmanager
def multilingual_index(articles: list[Article], per_locale: bool,
                       semantic: bool) -> Iterator[SearchService]:
    with tempfile.TemporaryDirectory(prefix="deskbell-multilingual-") as tmp:
        index_dir = Path(tmp) / "index"
        reindex(MULTILINGUAL, index_dir, full=True, articles=articles, semantic=semantic,
                per_locale=per_locale)
        service = SearchService(index_dir, semantic=semantic)
        try:
            yield service
        finally:
            service.close()


MULTILINGUAL_CONFIGS = {"english analysis words only": (False, False),
                        "english analysis": (False, True),
                        "per-locale words only": (True, False), "per-locale": (True, True)}


def run_multilingual() -> dict[str, dict[str, Any]]:
    articles, kbs = multilingual_kb()
    sets = []
    for path in MULTILINGUAL_SETS:
        data = json.loads(path.read_text(encoding="utf-8"))
        sets.append((path, data.get("locale", "en"), load_queries(path, kbs[data["corpus"]])))
    results: dict[str, dict[str, tuple[Evaluation, float]]] = {p.stem: {} for p, _, _ in sets}
    for name, (per_locale, semantic) in MULTILINGUAL_CONFIGS.items():
        with multilingual_index(articles, per_locale, semantic) as service:
            for path, locale, queries in sets:
                elapsed: list[float] = []

                def search(q: str, locale: str = locale) -> Ranking:
                    result = service.search(q, limit=TOP, locale=locale)
                    return Ranking(slugs=[h.slug for h in result.hits],
                                   titles=[h.title for h in result.hits],
                                   answered=result.answer is not None)

                evaluation = evaluate(timed(search, elapsed), queries)
                results[path.stem][name] = (evaluation, statistics.median(elapsed))
    for path, locale, _ in sets:
        print_table(f"{path.name} (locale {locale})", "disroot-howto-multilingual",
                    results[path.stem])
    return {stem: {name: as_json(evaluation, ms, True) for name, (evaluation, ms) in by.items()}
            for stem, by in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--queries", type=Path, action="append", default=None,
                        help="a query set (repeatable; default: all three)")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="the articles' folder (default: the one the query set names)")
    parser.add_argument("--json", type=Path,
                        default=REPO / "benchmarks" / "results" / "search_quality.json")
    parser.add_argument("--multilingual", action="store_true",
                        help="score the French, Spanish, German and English Disroot sets in one "
                             "multilingual knowledge base instead")
    args = parser.parse_args()
    if args.multilingual:
        out = args.json
        if out == parser.get_default("json"):
            out = out.with_name("search_quality_multilingual.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(run_multilingual(), indent=2))
        return
    sets: list[Path] = args.queries or DEFAULT_SETS
    if args.corpus and len(sets) > 1:
        parser.error("--corpus needs exactly one --queries")
    results = {path.stem: run_set(path, args.corpus) for path in sets}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = next(iter(results.values())) if len(results) == 1 else results
    args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
