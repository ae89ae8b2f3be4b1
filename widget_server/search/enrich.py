"""After the words: a generation's vectors and its confidence threshold.

`reindex` writes the words of a generation and makes it live; this module then encodes the
articles that changed (the rest are copied from the previous generation's vectors) and
calibrates the answer threshold against the generation's own articles. When only a few
articles changed it runs before the swap, so the new generation goes live complete; a large
build swaps first and adds meaning afterwards, while the server already answers by words.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import calibration, vectors
from .embedding import Encoder
from .generation import Generation
from .query import Synonyms
from .sections import split_sections

log = logging.getLogger("deskbell.search")
# Up to this many articles to encode, vectors are built before the swap (well under a second
# per few dozen articles); more than that and the words go live first.
BEFORE_SWAP = 200
# Up to this many changed articles (or 2% of them) an incremental reindex keeps the thresholds.
KEEP_THRESHOLD_UPTO = 5

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Enriched:
    encoded: int  # articles whose vectors were computed (the others were reused)
    note: str  # why a generation built with a model still ranks by words ("" when it does not)
    thresholds: calibration.Calibration


def enrich(index_dir: Path, name: str, previous: str | None, encoder: Encoder | None,
           progress: Progress | None = None, changed: int | None = None) -> Enriched:
    """Add vectors (when there is a model) and the calibration to generation `name`.

    `changed`: how many articles differ from `previous`. A few changed articles barely move a
    knowledge base's threshold, and calibrating asks hundreds of questions, so then the
    previous generation's thresholds are kept; a full build always calibrates afresh.
    """
    gen_dir = index_dir / name
    encoded = 0
    generation = Generation(index_dir, name, encoder)
    try:
        if encoder is not None:
            encoded = vectors.build(gen_dir, _sources(generation), encoder,
                                    index_dir / previous if previous else None, progress,
                                    fill=lambda source: _fill(generation, source))
            generation.attach_vectors()
        kept = _kept(index_dir, previous, changed, len(generation.catalog), generation.semantic)
        thresholds = kept or _calibrate(generation)
        note = generation.semantic_note if encoder is not None else ""
    finally:
        generation.close()
    thresholds.save(gen_dir)
    return Enriched(encoded, note, thresholds)


def _kept(index_dir: Path, previous: str | None, changed: int | None, total: int,
          semantic: bool) -> calibration.Calibration | None:
    if previous is None or changed is None or changed > max(KEEP_THRESHOLD_UPTO, total // 50):
        return None
    found = calibration.Calibration.load(index_dir / previous)
    if found is None or (semantic and found.semantic is None):
        return None
    return found


def _sources(generation: Generation) -> list[vectors.Source]:
    """Every article's slug, hash, title and summary; its text is read only if it is encoded.
    Only articles in the model's language get vectors: no other locale is ranked by them."""
    return [vectors.Source(slug=slug, hash=meta["hash"], title=meta["title"],
                           summary=meta["summary"])
            for slug, meta in sorted(generation.catalog.items())
            if generation.model_reads(meta.get("locale"))]


def _fill(generation: Generation, source: vectors.Source) -> vectors.Source:
    stored = generation.document(source.slug) or {}
    return dataclasses.replace(source, html=stored.get("html", ""), text=stored.get("text", ""))


def _calibrate(generation: Generation) -> calibration.Calibration:
    synonyms = Synonyms()

    def headings(slug: str) -> list[str]:
        html = (generation.document(slug) or {}).get("html", "")
        return [s.heading for s in split_sections(html) if s.heading]

    probes = calibration.probes(generation.catalog.values(), headings)
    # Each probe is asked in its article's locale; the off-topic ones in the model's language.
    locale_of = {question: generation.catalog[slug].get("locale") for question, slug in probes
                 if slug is not None}
    by_meaning = [(q, slug) for q, slug in probes if generation.by_meaning(locale_of.get(q))]
    if generation.semantic:  # one batch instead of hundreds of single encodes
        generation.prime([q + " " for q, _ in by_meaning] + [q + " " for q in calibration.OFF_TOPIC])

    def asker(instant: bool) -> calibration.Ask:
        def ask(question: str) -> tuple[str | None, float]:
            # A finished question, as a visitor who stopped typing sends it.
            ranked, confidence, *_ = generation.rank(question + " ", synonyms,
                                                     locale_of.get(question), instant=instant)
            return (ranked[0].candidate.slug if ranked else None), confidence
        return ask

    lexical = calibration.calibrate(asker(True), probes, semantic=False)
    semantic = (calibration.calibrate(asker(False), by_meaning, semantic=True)
                if generation.semantic else None)
    return calibration.Calibration(lexical=lexical, semantic=semantic)
