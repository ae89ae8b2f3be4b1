"""The `deskbell eval` command: score search against a file of real questions, for CI."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from widget_server.articles import load_site_kb
from widget_server.evaluation import (
    EvalFileError,
    Thresholds,
    checks,
    evaluate_kb,
    format_failure,
    format_table,
    load_queries,
)
from widget_server.search import Synonyms
from widget_server.settings import Settings

from .options import settings_options


class BadInput(click.ClickException):
    """The evaluation cannot run (bad queries file, missing knowledge base): exit 2."""

    exit_code = 2


def _share(name: str, text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(name, type=click.FloatRange(0, 1), default=None, metavar="SHARE", help=text)


@click.command(name="eval")
@click.argument("queries_file", metavar="QUERIES.yml", type=click.Path(dir_okay=False))
@_share("--min-success-at-3", "Fail unless this share has a right article in the top 3.")
@_share("--min-mrr", "Fail unless the mean reciprocal rank (top 10) is at least this.")
@_share("--min-abstain", "Fail unless this share of `answers: []` questions gets no answer.")
@_share("--max-lost-answers", "Fail if more than this share of answerable questions gets no answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="List each failing query with its top 3.")
@settings_options
def eval_command(settings: Settings, queries_file: str, min_success_at_3: float | None,
                 min_mrr: float | None, min_abstain: float | None,
                 max_lost_answers: float | None, as_json: bool, verbose: bool) -> None:
    """Score search on a file of real questions and the articles that must answer them.

    Builds a temporary index of the articles as they are on disk (no server, the live
    index is not touched), searches each question and prints, per kind and for all:
    success@1 and success@3 (a right article among the first 1 or 3 hits), MRR@10,
    the share of questions given an answer, and for questions with `answers: []`
    the share that got no answer (abstain).

    \b
    QUERIES.yml:
        queries:
          - q: get my money back
            kind: natural              # optional label, reported per kind
            answers: [billing/refunds] # slugs or paths relative to the kb folder
          - q: my dishwasher won't drain
            answers: []                # must get no answer

    Thresholds (shares from 0 to 1) apply to all questions. Exit status: 0 when
    every threshold holds, 1 when one fails, 2 when the file or the knowledge base
    cannot be used.

    \b
    Example:
        deskbell eval questions.yml --kb ./kb
        deskbell eval questions.yml --min-success-at-3 0.8 --min-abstain 0.7 -v
    """
    try:
        kb = load_site_kb(settings)
        queries = load_queries(Path(queries_file), kb)
    except (FileNotFoundError, EvalFileError) as exc:
        raise BadInput(str(exc)) from None
    evaluation = evaluate_kb(kb, queries, Synonyms.load(settings.synonyms_file or None),
                             semantic=settings.semantic, threshold=settings.answer_threshold)
    results = checks(evaluation.overall, Thresholds(min_success_at_3, min_mrr, min_abstain,
                                                     max_lost_answers))
    failed = [c for c in results if not c.ok]
    if as_json:
        report = {"queries": len(queries),
                  "kinds": {k: f.as_dict() for k, f in evaluation.by_kind.items()},
                  "thresholds": [c.as_dict() for c in results], "passed": not failed}
        if verbose:
            report["failing"] = [{"position": o.query.position, "q": o.query.q,
                                  "kind": o.query.kind, "answers": list(o.query.answers),
                                  "got": o.ranking.slugs[:3], "answered": o.ranking.answered}
                                 for o in evaluation.failures]
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        click.echo(f"{len(queries)} queries on {len(kb.public())} articles in {settings.kb_dir}")
        click.echo(format_table(evaluation))
        if verbose:
            for outcome in evaluation.failures:
                click.echo(format_failure(outcome))
        for check in results:
            click.echo(f"{'ok' if check.ok else 'FAILED'}: {check}")
    if failed:
        click.echo(f"Error: {len(failed)} threshold(s) not met: "
                   + "; ".join(str(c) for c in failed), err=True)
        sys.exit(1)


COMMANDS = [eval_command]
