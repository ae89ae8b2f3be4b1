"""Search quality on a real help center: success@3 and MRR@10 per query kind.

Deskbell's search is compared with plain Whoosh defaults (title + body, StandardAnalyzer,
MultifieldParser with its default AND grouping, BM25F), and the same with OR grouping, on the
same articles and queries, measured in the same run.

    .venv/bin/python -m benchmarks.search_quality [--queries FILE] [--corpus DIR] [--json OUT]

Query sets: benchmarks/queries/arduino.json (default) and duckduckgo.json; each names its
corpus, found under benchmarks/corpora/ unless --corpus says otherwise.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.fields import ID, TEXT, Schema
from whoosh.qparser import AndGroup, MultifieldParser, OrGroup

from widget_server.articles import load_kb
from widget_server.search import SearchService, reindex

REPO = Path(__file__).resolve().parent.parent
CORPORA = REPO / "benchmarks" / "corpora"
# Where each corpus keeps its articles (duckduckgo-help's 31 redirect stubs have no title:
# reindex skips them with a reason, as it would any untitled file).
CORPUS_DIRS = {"arduino-help": CORPORA / "arduino-help" / "content",
               "duckduckgo-help": CORPORA / "duckduckgo-help" / "_docs",
               "disroot-howto": CORPORA / "disroot-howto" / "pages"}
DEFAULT_QUERIES = REPO / "benchmarks" / "queries" / "arduino.json"

Searcher = Callable[[str], list[str]]


def plain_whoosh(kb_dir: Path, work: Path, group: type = AndGroup) -> tuple[Searcher, Callable[[], None]]:
    kb = load_kb(kb_dir)
    ix = whoosh_index.create_in(str(work), Schema(slug=ID(stored=True), title=TEXT, body=TEXT))
    writer = ix.writer()
    for article in kb.public():
        writer.add_document(slug=article.slug, title=article.title, body=article.render().text)
    writer.commit()
    searcher = ix.searcher()
    parser = MultifieldParser(["title", "body"], ix.schema, group=group)

    def search(q: str) -> list[str]:
        return [hit["slug"] for hit in searcher.search(parser.parse(q), limit=10)]

    return search, searcher.close


def deskbell(kb_dir: Path, work: Path) -> tuple[Searcher, Callable[[], None]]:
    reindex(kb_dir, work / "index")
    service = SearchService(work / "index")

    def search(q: str) -> list[str]:
        return [hit.slug for hit in service.search(q, limit=10).hits]

    return search, service.close


def score(search: Searcher, queries: list[dict], slug_of: dict[str, str]) -> dict[str, dict]:
    by_kind: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for item in queries:
        wanted = {slug_of[a] for a in item["answers"]}
        started = time.perf_counter()
        ranked = search(item["q"])
        elapsed = (time.perf_counter() - started) * 1000
        rank = next((i for i, slug in enumerate(ranked, start=1) if slug in wanted), None)
        hit3 = int(rank is not None and rank <= 3)
        by_kind[item["kind"]].append((hit3, 1 / rank if rank else 0.0, elapsed))
        by_kind["all"].append((hit3, 1 / rank if rank else 0.0, elapsed))
    return {
        kind: {
            "n": len(rows),
            "success@3": sum(r[0] for r in rows) / len(rows),
            "mrr@10": sum(r[1] for r in rows) / len(rows),
            "median_ms": statistics.median(r[2] for r in rows),
        }
        for kind, rows in by_kind.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=None,
                        help="the articles' folder (default: the one the query set names)")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES)
    parser.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results" / "search_quality.json")
    args = parser.parse_args()
    query_set = json.loads(args.queries.read_text())
    queries = query_set["queries"]
    corpus = args.corpus or CORPUS_DIRS[query_set["corpus"]]
    slug_of = {a.path: a.slug for a in load_kb(corpus).articles}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        builds = (("plain whoosh", plain_whoosh),
                  ("plain whoosh or", lambda kb, w: plain_whoosh(kb, w, OrGroup)),
                  ("deskbell", deskbell))
        for name, build in builds:
            work = Path(tmp) / name.replace(" ", "-")
            work.mkdir()
            search, close = build(corpus, work)
            results[name] = score(search, queries, slug_of)
            close()
    kinds = ["all", *sorted(k for k in results["deskbell"] if k != "all")]
    print(f"{len(queries)} queries on {query_set['corpus']}")
    print(f"{'kind':<10}{'n':>4}  {'plain s@3':>9} {'MRR':>6}  {'OR s@3':>6} {'MRR':>6}  "
          f"{'deskbell s@3':>12} {'MRR':>6}  {'ms p50':>6}")
    for kind in kinds:
        p, d = results["plain whoosh"][kind], results["deskbell"][kind]
        o = results["plain whoosh or"][kind]
        print(f"{kind:<10}{d['n']:>4}  {p['success@3']:>9.2f} {p['mrr@10']:>6.2f}  "
              f"{o['success@3']:>6.2f} {o['mrr@10']:>6.2f}  "
              f"{d['success@3']:>12.2f} {d['mrr@10']:>6.2f}  {d['median_ms']:>6.1f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
