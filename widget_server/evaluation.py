"""Search-quality evaluation: a file of real questions with the articles that must answer them,
scored against a knowledge base as it is on disk.

This module owns the query file format (YAML; the benchmark JSON sets are valid YAML too), the
resolution of each expected answer (a slug, an alias, or an article path relative to the
knowledge-base folder) to the article's slug, the figures (success@1, success@3, MRR@10,
answered rate for questions with answers; abstain rate for questions that must get no answer)
per kind and overall, and the thresholds a run must meet. `deskbell eval` and the benchmark
harness both score through it, so the figures mean the same everywhere.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .articles import KnowledgeBase, slugify_slug
from .search import SearchService, Synonyms, reindex

DEFAULT_KIND = "query"
ALL = "all"
TOP = 10  # hits looked at per query: MRR@10


class EvalFileError(ValueError):
    """The query file cannot be used as it is; the message names the file or the query."""


@dataclass(frozen=True)
class EvalQuery:
    position: int  # 1-based place in the file, for messages
    q: str
    kind: str
    answers: tuple[str, ...]  # slugs; empty: the search must give no answer


@dataclass(frozen=True)
class Ranking:
    """What one search gave: the slugs (and titles) of its hits in order, and whether it
    offered an answer."""

    slugs: list[str]
    titles: list[str]
    answered: bool


@dataclass(frozen=True)
class Outcome:
    query: EvalQuery
    ranking: Ranking

    @property
    def rank(self) -> int | None:
        """Rank (1-based) of the first right article among the first TOP hits."""
        wanted = set(self.query.answers)
        return next((i for i, slug in enumerate(self.ranking.slugs[:TOP], start=1)
                     if slug in wanted), None)

    @property
    def failed(self) -> bool:
        """Answerable: no right article in the top 3. No-answer: an answer was given."""
        if not self.query.answers:
            return self.ranking.answered
        rank = self.rank
        return rank is None or rank > 3


@dataclass(frozen=True)
class Figures:
    answerable: int
    no_answer: int
    success_at_1: float | None
    success_at_3: float | None
    mrr_at_10: float | None
    answered: float | None  # share of answerable queries given an answer
    abstain: float | None  # share of no-answer queries given none

    @property
    def lost_answers(self) -> float | None:
        """Share of answerable queries that got no answer."""
        return None if self.answered is None else 1.0 - self.answered

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.answerable, "no_answer_n": self.no_answer,
                "success@1": self.success_at_1, "success@3": self.success_at_3,
                "mrr@10": self.mrr_at_10, "answered": self.answered, "abstain": self.abstain}


def _share(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def figures(outcomes: Iterable[Outcome]) -> Figures:
    outcomes = list(outcomes)
    answerable = [o for o in outcomes if o.query.answers]
    no_answer = [o for o in outcomes if not o.query.answers]
    ranks = [o.rank for o in answerable]
    return Figures(
        answerable=len(answerable), no_answer=len(no_answer),
        success_at_1=_share([float(r == 1) for r in ranks]),
        success_at_3=_share([float(r is not None and r <= 3) for r in ranks]),
        mrr_at_10=_share([1.0 / r if r else 0.0 for r in ranks]),
        answered=_share([float(o.ranking.answered) for o in answerable]),
        abstain=_share([float(not o.ranking.answered) for o in no_answer]),
    )


@dataclass
class Evaluation:
    outcomes: list[Outcome]
    by_kind: dict[str, Figures] = field(default_factory=dict)

    @classmethod
    def of(cls, outcomes: list[Outcome]) -> Evaluation:
        kinds = sorted({o.query.kind for o in outcomes})
        by_kind = {kind: figures([o for o in outcomes if o.query.kind == kind]) for kind in kinds}
        by_kind[ALL] = figures(outcomes)
        return cls(outcomes=outcomes, by_kind=by_kind)

    @property
    def overall(self) -> Figures:
        return self.by_kind[ALL]

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]


# ---------------------------------------------------------------- the query file

def read_query_file(path: Path) -> list[dict[str, Any]]:
    """The raw entries of a query file, checked for shape. Raises EvalFileError."""
    path = Path(path)
    if not path.is_file():
        raise EvalFileError(f"queries file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise EvalFileError(f"{path}: not a UTF-8 text file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).split("\n")[0]
        raise EvalFileError(f"{path}: not valid YAML{where}: {problem}") from None
    entries = data.get("queries") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise EvalFileError(f"{path}: expected a top-level `queries:` list")
    if not entries:
        raise EvalFileError(f"{path}: the `queries:` list is empty")
    return [_check_entry(path, position, entry) for position, entry in enumerate(entries, start=1)]


def _check_entry(path: Path, position: int, entry: Any) -> dict[str, Any]:
    where = f"{path}: query {position}"
    if not isinstance(entry, dict):
        raise EvalFileError(f"{where}: expected a mapping with q and answers")
    q = entry.get("q")
    if not isinstance(q, str) or not q.strip():
        raise EvalFileError(f"{where}: missing `q` (the question as a visitor types it)")
    answers = entry.get("answers")
    if answers is None:
        raise EvalFileError(f"{where} ({q!r}): missing `answers` (use [] for a question "
                            "that must get no answer)")
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise EvalFileError(f"{where} ({q!r}): `answers` must be a list of slugs or article paths")
    kind = entry.get("kind", DEFAULT_KIND)
    if not isinstance(kind, str) or not kind.strip() or kind == ALL:
        raise EvalFileError(f"{where} ({q!r}): `kind` must be a label other than {ALL!r}")
    return {"q": q.strip(), "kind": kind.strip(), "answers": [a.strip() for a in answers]}


def resolve(entries: list[dict[str, Any]], kb: KnowledgeBase, path: Path) -> list[EvalQuery]:
    """Each expected answer as the slug of a published article. Raises EvalFileError."""
    by_name: dict[str, str] = {}
    for article in kb.public():
        by_name[article.path] = article.slug
        by_name[article.slug] = article.slug
        for alias in article.aliases:
            by_name.setdefault(alias, article.slug)
    on_disk = {a.path: a for a in kb.articles}
    rejected = {p.path for p in kb.problems if p.severity == "error"}
    queries = []
    for position, entry in enumerate(entries, start=1):
        slugs = []
        for name in entry["answers"]:
            slug = by_name.get(name) or by_name.get(name.strip("/")) or by_name.get(f"{name}.md") \
                or by_name.get(slugify_slug(name.removesuffix(".md")))
            if slug is None:
                raise EvalFileError(f"{path}: query {position} ({entry['q']!r}): answer {name!r} "
                                    f"{_why_missing(name, on_disk, rejected)}")
            slugs.append(slug)
        queries.append(EvalQuery(position, entry["q"], entry["kind"], tuple(dict.fromkeys(slugs))))
    return queries


def _why_missing(name: str, on_disk: dict[str, Any], rejected: set[str]) -> str:
    for candidate in (name, f"{name}.md"):
        if candidate in on_disk:
            return "is a draft, which search never shows"
        if candidate in rejected:
            return "is not indexed: `deskbell check` reports errors in it"
    return "names no article (give its slug or its path relative to the knowledge base)"


def load_queries(path: Path, kb: KnowledgeBase) -> list[EvalQuery]:
    return resolve(read_query_file(path), kb, Path(path))


# ---------------------------------------------------------------- running

Searcher = Callable[[str], Ranking]


def evaluate(search: Searcher, queries: list[EvalQuery]) -> Evaluation:
    return Evaluation.of([Outcome(query, search(query.q)) for query in queries])


def deskbell_searcher(service: SearchService) -> Searcher:
    def search(text: str) -> Ranking:
        result = service.search(text, limit=TOP)
        return Ranking(slugs=[h.slug for h in result.hits], titles=[h.title for h in result.hits],
                       answered=result.answer is not None)

    return search


@contextmanager
def temporary_index(kb: KnowledgeBase, synonyms: Synonyms | None = None,
                    semantic: bool = True, threshold: float | None = None) -> Iterator[SearchService]:
    """A SearchService over a fresh index of the knowledge base, built with the normal
    reindex in a temporary folder and removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="deskbell-eval-") as tmp:
        index_dir = Path(tmp) / "index"
        reindex(kb.root, index_dir, full=True, articles=kb.public(), semantic=semantic)
        service = SearchService(index_dir, synonyms, semantic=semantic, threshold=threshold)
        try:
            yield service
        finally:
            service.close()


def evaluate_kb(kb: KnowledgeBase, queries: list[EvalQuery], synonyms: Synonyms | None = None,
                semantic: bool = True, threshold: float | None = None) -> Evaluation:
    with temporary_index(kb, synonyms, semantic, threshold) as service:
        return evaluate(deskbell_searcher(service), queries)


# ---------------------------------------------------------------- thresholds and report

@dataclass(frozen=True)
class Thresholds:
    min_success_at_3: float | None = None
    min_mrr: float | None = None
    min_abstain: float | None = None
    max_lost_answers: float | None = None


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None  # None: nothing in the file to measure it on
    limit: float
    at_least: bool

    @property
    def ok(self) -> bool:
        if self.value is None:
            return False
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.name}: no queries to measure it on (threshold {self.limit:.2f})"
        sign = ">=" if self.at_least else "<="
        return f"{self.name} {self.value:.2f}, threshold {sign} {self.limit:.2f}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "limit": self.limit,
                "at_least": self.at_least, "ok": self.ok}


def checks(overall: Figures, thresholds: Thresholds) -> list[Check]:
    wanted = (("success@3", overall.success_at_3, thresholds.min_success_at_3, True),
              ("MRR@10", overall.mrr_at_10, thresholds.min_mrr, True),
              ("abstain", overall.abstain, thresholds.min_abstain, True),
              ("lost answers", overall.lost_answers, thresholds.max_lost_answers, False))
    return [Check(name, value, limit, at_least)
            for name, value, limit, at_least in wanted if limit is not None]


def _cell(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.2f}"


def format_table(evaluation: Evaluation) -> str:
    head = (f"{'kind':<12}{'n':>5}{'s@1':>7}{'s@3':>7}{'MRR@10':>8}{'answered':>10}"
            f"{'no-answer n':>13}{'abstain':>9}")
    lines = [head]
    kinds = [k for k in evaluation.by_kind if k != ALL] + [ALL]
    for kind in kinds:
        f = evaluation.by_kind[kind]
        lines.append(f"{kind:<12}{f.answerable:>5}{_cell(f.success_at_1, 7)}"
                     f"{_cell(f.success_at_3, 7)}{_cell(f.mrr_at_10, 8)}{_cell(f.answered, 10)}"
                     f"{f.no_answer:>13}{_cell(f.abstain, 9)}")
    return "\n".join(lines)


def format_failure(outcome: Outcome) -> str:
    query = outcome.query
    got = "; ".join(f"{i}. {title} ({slug})" for i, (slug, title)
                    in enumerate(zip(outcome.ranking.slugs[:3], outcome.ranking.titles[:3],
                                     strict=False), start=1)) or "no hits"
    if query.answers:
        rank = outcome.rank
        why = f"right answer at rank {rank}" if rank else "no right answer in the top 10"
        wanted = ", ".join(query.answers)
    else:
        why, wanted = "answered a question that must get no answer", "no answer"
    return (f"query {query.position} [{query.kind}] {query.q!r}: {why}\n"
            f"  wanted: {wanted}\n  got:    {got}")
