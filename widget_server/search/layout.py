"""The index directory on disk, as builds write it and servers read it.

Layout under <data_dir>/index/:
  CURRENT          name of the live generation, replaced atomically (os.replace)
  gen-000007/      a complete Whoosh index + catalog.json (article metadata, in memory on serve)
                   + words.json (unstemmed word -> how often the knowledge base uses it)
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


def read_words(gen_dir: Path) -> Counter[str]:
    try:
        with open(gen_dir / WORDS_FILE, encoding="utf-8") as fh:
            return Counter(json.load(fh))
    except FileNotFoundError:
        return Counter()
