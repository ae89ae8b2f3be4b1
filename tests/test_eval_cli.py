"""`deskbell eval`: a file of real questions scored against the articles on disk, with exit
codes a CI job can rely on (0 thresholds hold, 1 one fails, 2 the file cannot be used)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from widget_server.evaluation import Check, Figures, Thresholds, checks

ARTICLES = {
    "account/reset-password.md": (
        "Reset your password",
        "Forgot your password? Open the sign-in page and choose the password reset link. "
        "We email a password reset link; the new password must be twelve characters.",
    ),
    "account/delete-account.md": (
        "Delete your account",
        "Open your profile and choose Delete. Everything you stored is erased within two days. "
        "You will be asked for your password once more before it is gone.",
    ),
    "Billing & Payments/Refunds and returns.md": (
        "Refunds",
        "Send the item back within thirty days and the refund reaches your card in a week.",
    ),
    "shipping/delivery-times.md": (
        "Delivery times",
        "Parcels arrive in three to five working days; express delivery takes one day.",
    ),
}
REFUNDS = "Billing & Payments/Refunds and returns.md"


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    for path, (title, body) in ARTICLES.items():
        file = root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(f"---\ntitle: {title}\n---\n\n{body}\n", encoding="utf-8")
    return root


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "questions.yml"
    path.write_text(text, encoding="utf-8")
    return path


# Ranks known from the articles: the first three are the only article holding their words;
# "password" is all over "Reset your password" and said once in "Delete your account".
QUESTIONS = f"""
queries:
  - q: reset password
    kind: keyword
    answers: [account/reset-password]
  - q: refund
    kind: keyword
    answers: ["{REFUNDS}"]
  - q: delivery times
    kind: keyword
    answers: [shipping/delivery-times.md]
  - q: password
    kind: natural
    answers: [account/delete-account]
  - q: my dishwasher won't drain
    kind: offtopic
    answers: []
"""


def run(kb: Path, queries: Path, *args: str, data_dir: Path | None = None) -> Result:
    extra = ["--data-dir", str(data_dir)] if data_dir else []
    return CliRunner().invoke(main, ["eval", str(queries), "--kb", str(kb), *extra, *args])


def row(output: str, kind: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.split()[:1] == [kind])


def test_table_shows_the_known_figures_per_kind_and_for_all(kb: Path, tmp_path: Path) -> None:
    result = run(kb, write_yaml(tmp_path, QUESTIONS))
    assert result.exit_code == 0, result.output
    assert "5 queries on 4 articles" in result.stdout
    # kind, n, s@1, s@3, MRR@10, answered, no-answer n, abstain
    assert row(result.stdout, "keyword")[:5] == ["keyword", "3", "1.00", "1.00", "1.00"]
    assert row(result.stdout, "natural")[:5] == ["natural", "1", "0.00", "1.00", "0.50"]
    assert row(result.stdout, "offtopic") == ["offtopic", "0", "-", "-", "-", "-", "1", "1.00"]
    all_row = row(result.stdout, "all")
    assert all_row[:5] == ["all", "4", "0.75", "1.00", "0.88"]
    assert all_row[6:] == ["1", "1.00"]


def test_json_gives_the_exact_figures(kb: Path, tmp_path: Path) -> None:
    result = run(kb, write_yaml(tmp_path, QUESTIONS), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    overall = report["kinds"]["all"]
    assert (overall["n"], overall["no_answer_n"]) == (4, 1)
    assert overall["success@1"] == 0.75
    assert overall["success@3"] == 1.0
    assert overall["mrr@10"] == pytest.approx(0.875)
    assert overall["abstain"] == 1.0
    assert report["kinds"]["offtopic"]["success@3"] is None
    assert report["passed"] is True


def test_thresholds_that_hold_exit_0(kb: Path, tmp_path: Path) -> None:
    result = run(kb, write_yaml(tmp_path, QUESTIONS), "--min-success-at-3", "1.0",
                 "--min-mrr", "0.85", "--min-abstain", "1", "--max-lost-answers", "1")
    assert result.exit_code == 0, result.output
    assert "ok: success@3 1.00, threshold >= 1.00" in result.stdout
    assert "ok: MRR@10 0.88, threshold >= 0.85" in result.stdout


def test_a_threshold_that_fails_exits_1_naming_figure_and_threshold(kb: Path, tmp_path: Path) -> None:
    result = run(kb, write_yaml(tmp_path, QUESTIONS), "--min-success-at-3", "0.5",
                 "--min-mrr", "0.9")
    assert result.exit_code == 1
    assert "ok: success@3 1.00, threshold >= 0.50" in result.stdout
    assert "FAILED: MRR@10 0.88, threshold >= 0.90" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "Error: 1 threshold(s) not met: MRR@10 0.88, threshold >= 0.90"]
    assert json.loads(run(kb, write_yaml(tmp_path, QUESTIONS), "--min-mrr", "0.9",
                          "--json").stdout)["passed"] is False


def test_a_threshold_with_nothing_to_measure_fails(kb: Path, tmp_path: Path) -> None:
    only_answerable = write_yaml(tmp_path, "queries:\n  - q: refund\n    answers: [billing-payments/refunds-and-returns]\n")
    result = run(kb, only_answerable, "--min-abstain", "0.5")
    assert result.exit_code == 1
    assert "abstain: no queries to measure it on" in result.stderr


def test_lost_answers_is_the_share_of_answerable_questions_without_an_answer() -> None:
    answered_half = Figures(answerable=4, no_answer=0, success_at_1=1, success_at_3=1,
                            mrr_at_10=1, answered=0.5, abstain=None)
    [check] = checks(answered_half, Thresholds(max_lost_answers=0.25))
    assert (check.value, check.ok) == (0.5, False)
    assert str(check) == "lost answers 0.50, threshold <= 0.25"
    assert Check("lost answers", 0.25, 0.25, at_least=False).ok


def test_benchmark_json_with_paths_works_as_is(kb: Path, tmp_path: Path) -> None:
    queries = tmp_path / "set.json"
    queries.write_text(json.dumps({"corpus": "tiny", "queries": [
        {"q": "money back", "kind": "natural", "answers": [REFUNDS]},
        {"q": "best pizza near me", "kind": "offtopic", "answers": []},
    ]}), encoding="utf-8")
    result = run(kb, queries, "--json")
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.stdout)["kinds"]) == {"natural", "offtopic", "all"}


def test_kind_is_optional(kb: Path, tmp_path: Path) -> None:
    result = run(kb, write_yaml(tmp_path, "queries:\n  - q: refund\n    answers: [billing-payments/refunds-and-returns]\n"))
    assert result.exit_code == 0, result.output
    assert row(result.stdout, "query")[:3] == ["query", "1", "1.00"]


def test_verbose_lists_each_failing_query_with_its_top_3(kb: Path, tmp_path: Path) -> None:
    wrong = write_yaml(tmp_path, "queries:\n  - q: delivery times\n    answers: [account/reset-password]\n"
                                 "  - q: refund\n    answers: [billing-payments/refunds-and-returns]\n")
    result = run(kb, wrong, "--verbose")
    assert result.exit_code == 0, result.output
    assert "query 1 [query] 'delivery times': no right answer in the top 10" in result.stdout
    assert "  wanted: account/reset-password" in result.stdout
    assert "  got:    1. Delivery times (shipping/delivery-times)" in result.stdout
    assert "'refund'" not in result.stdout


def test_eval_builds_its_own_index_and_leaves_the_data_dir_alone(kb: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = run(kb, write_yaml(tmp_path, QUESTIONS), data_dir=data)
    assert result.exit_code == 0, result.output
    assert not (data / "index").exists()


@pytest.mark.parametrize(("text", "message"), [
    (None, "queries file not found"),
    ("queries: [q: x\n", "not valid YAML (line 2)"),
    ("- just a list item without q\n", "query 1: expected a mapping with q and answers"),
    ("queries: []\n", "the `queries:` list is empty"),
    ("queries:\n  - q: refund\n    answers: []\n  - answers: [x]\n", "query 2: missing `q`"),
    ("queries:\n  - q: refund\n", "query 1 ('refund'): missing `answers` (use [] for"),
    ("queries:\n  - q: refund\n    answers: [billing-payments/refunds-and-returns]\n"
     "  - q: invoice\n    answers: [billing/invoices]\n",
     "query 2 ('invoice'): answer 'billing/invoices' names no article"),
])
def test_a_bad_file_exits_2_with_one_clear_line(kb: Path, tmp_path: Path, text: str | None,
                                                message: str) -> None:
    path = tmp_path / "questions.yml" if text is None else write_yaml(tmp_path, text)
    result = run(kb, path)
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: ") and message in line


def test_a_draft_or_broken_article_is_named_as_such(kb: Path, tmp_path: Path) -> None:
    (kb / "draft.md").write_text("---\ntitle: Soon\ndraft: true\n---\n\nNot yet.\n", encoding="utf-8")
    (kb / "broken.md").write_text("---\ntitle: [unclosed\n---\n\nText.\n", encoding="utf-8")
    for name, why in (("draft.md", "is a draft"), ("broken.md", "`deskbell check` reports errors")):
        result = run(kb, write_yaml(tmp_path, f"queries:\n  - q: soon\n    answers: [{name}]\n"))
        assert result.exit_code == 2
        assert why in result.stderr


def test_a_missing_knowledge_base_exits_2(tmp_path: Path) -> None:
    result = run(tmp_path / "nowhere", write_yaml(tmp_path, QUESTIONS))
    assert result.exit_code == 2
    assert "knowledge base folder not found" in result.stderr
