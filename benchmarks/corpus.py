"""Synthetic knowledge bases of any size, recombined from a real help center.

Article k of a synthetic set keeps the front matter title of source article k mod n with a
numbered variant ("… (edition 3)"), its own paragraphs, and two paragraphs borrowed from other
source articles chosen by a seeded random generator. The vocabulary, paragraph lengths and
markdown/HTML mix therefore stay those of the real corpus while the index grows. Sets are
written once into a cache directory outside the repository and reused while the source and
the recipe are unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ARDUINO = REPO / "benchmarks" / "corpora" / "arduino-help" / "content"
RECIPE = "1"  # bump when the generation recipe changes, so cached sets are rebuilt


def cache_root() -> Path:
    """Where benchmarks keep built corpora and indexes between runs (created if missing)."""
    base = os.environ.get("BENCH_CACHE") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) / "deskbell-bench" if base else Path("/tmp/deskbell-bench")
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass(frozen=True)
class Source:
    relative: Path
    title: str
    paragraphs: tuple[str, ...]


_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_TITLE = re.compile(r"^title:\s*(.+)$", re.M)


def _read_source(root: Path, path: Path) -> Source | None:
    text = path.read_text(encoding="utf-8")
    front = _FRONT.match(text)
    if not front or "draft: true" in front.group(1):
        return None
    title_match = _TITLE.search(front.group(1))
    if not title_match:
        return None
    title = title_match.group(1).strip().strip("\"'")
    body = text[front.end():]
    paragraphs = tuple(p.strip() for p in re.split(r"\n\s*\n", body) if p.strip())
    return Source(path.relative_to(root), title, paragraphs)


def read_sources(root: Path = ARDUINO) -> list[Source]:
    found = (_read_source(root, p) for p in sorted(root.rglob("*.md")))
    return [s for s in found if s is not None and s.paragraphs]


def _article_text(k: int, sources: list[Source], rng: random.Random) -> str:
    base = sources[k % len(sources)]
    edition = k // len(sources)
    title = base.title if edition == 0 else f"{base.title} (edition {edition + 1})"
    borrowed = [rng.choice(rng.choice(sources).paragraphs) for _ in range(2)]
    body = "\n\n".join([*base.paragraphs, *borrowed])
    return f"---\ntitle: {json.dumps(title)}\n---\n\n{body}\n"


def _article_path(k: int, sources: list[Source]) -> Path:
    base = sources[k % len(sources)].relative
    return base.with_name(f"{base.stem}-{k // len(sources) + 1}.md")


def _fingerprint(root: Path, size: int) -> str:
    digest = hashlib.sha256(f"{RECIPE}:{size}".encode())
    for path in sorted(root.rglob("*.md")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:16]


def synthetic_kb(size: int, root: Path = ARDUINO, cache: Path | None = None) -> Path:
    """The folder of a `size`-article knowledge base, generated on first use."""
    target = (cache or cache_root()) / f"kb-{size}"
    stamp = target / ".fingerprint"
    fingerprint = _fingerprint(root, size)
    if stamp.is_file() and stamp.read_text() == fingerprint:
        return target
    shutil.rmtree(target, ignore_errors=True)
    sources = read_sources(root)
    rng = random.Random(size)
    for k in range(size):
        path = target / _article_path(k, sources)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_article_text(k, sources, rng), encoding="utf-8")
    stamp.write_text(fingerprint)
    return target


def article_paths(kb_dir: Path) -> list[Path]:
    return sorted(kb_dir.rglob("*.md"))
