"""The index directory on disk, as builds write it and servers read it.

Layout under <data_dir>/index/:
  CURRENT          name of the live generation, replaced atomically (os.replace)
  gen-000007/      a complete Whoosh index + catalog.json (article metadata, in memory on serve)
                   + words.json (locale -> unstemmed word -> how often its articles use it;
                   a generation built before languages existed has one word -> count map)
                   + analysis.json (which analysis built it; absent: every article as English)
  gen-000008.tmp/  a generation being built; never read
  reindex.lock     held by the one reindex allowed at a time
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

CURRENT_FILE = "CURRENT"
CATALOG_FILE = "catalog.json"
WORDS_FILE = "words.json"
ANALYSIS_FILE = "analysis.json"
# Bumped whenever what an article's words become in the index changes: a generation built
# with another version is never updated incrementally, `deskbell reindex` rebuilds it whole.
ANALYSIS_VERSION = 2  # 1 (no file): every locale analyzed as English; 2: per-locale analysis
LOCK_FILE = "reindex.lock"
_GENERATION = re.compile(r"gen-(\d+)(\.tmp)?")


def current_generation(index_dir: Path) -> str | None:
    try:
        name = (index_dir / CURRENT_FILE).read_text().strip()
    except FileNotFoundError:
        return None
    return name if (index_dir / name / CATALOG_FILE).is_file() else None


def next_name(index_dir: Path) -> str:
    numbers = [int(m.group(1)) for p in index_dir.glob("gen-*") if (m := _GENERATION.fullmatch(p.name))]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def read_catalog(gen_dir: Path) -> dict[str, dict[str, Any]]:
    with open(gen_dir / CATALOG_FILE, encoding="utf-8") as fh:
        data: dict[str, dict[str, Any]] = json.load(fh)
    return data


def _read_words_file(gen_dir: Path) -> dict[str, Any]:
    try:
        with open(gen_dir / WORDS_FILE, encoding="utf-8") as fh:
            found: dict[str, Any] = json.load(fh)
            return found
    except FileNotFoundError:
        return {}


def read_locale_words(gen_dir: Path) -> dict[str, Counter[str]]:
    """Word counts per locale; a generation of before languages has them all under ""."""
    found = _read_words_file(gen_dir)
    if found and not isinstance(next(iter(found.values())), dict):
        return {"": Counter(found)}
    return {locale: Counter(counts) for locale, counts in found.items()}


def read_words(gen_dir: Path) -> Counter[str]:
    """Every locale's word counts together."""
    total: Counter[str] = Counter()
    for counts in read_locale_words(gen_dir).values():
        total.update(counts)
    return total


def read_analysis(gen_dir: Path) -> dict[str, Any]:
    """How a generation's articles were analyzed: {"version", "per_locale"}."""
    try:
        found: dict[str, Any] = json.loads((gen_dir / ANALYSIS_FILE).read_text(encoding="utf-8"))
        return found
    except (OSError, ValueError):
        return {"version": 1, "per_locale": False}
