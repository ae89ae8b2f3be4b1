"""The confidence threshold of one knowledge base, chosen at reindex from its own articles.

A fixed threshold would be tuned to one site. Instead each generation asks itself two kinds of
question and looks at the confidence it reports:

- answerable probes: every article's title and headings, which the article should answer. The
  confidences of those found at rank 1 show how sure search is when it is right here;
- off-topic probes: everyday questions no help center answers (weather, recipes, sport),
  which show how sure it is when nothing fits.

The threshold sits between the low end of the first (10th percentile) and the high end of the
second (90th), nearer the second: a visitor who could have been answered and is told "no
answer" loses more than one shown the closest articles, marked as such. The result is stored with
the generation (`calibration.json`) and is the same for the same articles. Owners can set
`answer_threshold` to override it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..durable import write_atomic

FILE = "calibration.json"
LOWEST, HIGHEST = 0.15, 0.75
ANSWERABLE_SHARE = 0.8  # how far down from the answerable p10 towards the off-topic p90
MAX_PROBES = 400

# Questions people do type into help widgets, that no site's articles answer. Kept generic
# on purpose: they describe "nothing fits" for any knowledge base, whatever its topic.
OFF_TOPIC = (
    "what's the weather like tomorrow", "recipe for banana bread", "who won the football match",
    "how tall is mount everest", "best pizza place near me", "how to fix a leaking tap",
    "translate hello into japanese", "what time is sunset today", "how many calories in an apple",
    "my cat keeps scratching the sofa", "cheap flights to lisbon", "lyrics of a song i heard",
    "how to grow tomatoes on a balcony", "when was the eiffel tower built", "tips for a job interview",
    "how long to boil an egg", "what is the capital of australia", "best running shoes for beginners",
    "how to remove a red wine stain", "horoscope for this week", "how do vaccines work",
    "car makes a squeaking noise when braking", "how to tie a tie", "good books to read on holiday",
    "why is the sky blue", "convert 30 celsius to fahrenheit", "how to train a puppy to sit",
    "my washing machine smells", "what should i cook for dinner tonight", "how to learn to swim",
)


# The threshold before a knowledge base has been calibrated (or when it is too small to be):
# by words alone the confidence is the share of query words found, by meaning it is lower.
DEFAULT_THRESHOLD = {False: 0.75, True: 0.35}


@dataclass(frozen=True)
class Threshold:
    threshold: float
    answerable: int  # answerable probes found at rank 1
    answerable_p10: float
    off_topic_p90: float


@dataclass(frozen=True)
class Calibration:
    """A generation's thresholds, one per ranking (by words, by meaning)."""

    lexical: Threshold | None = None
    semantic: Threshold | None = None

    def for_ranker(self, semantic: bool) -> float | None:
        found = self.semantic if semantic else self.lexical
        return found.threshold if found else None

    def save(self, gen_dir: Path) -> None:
        write_atomic(gen_dir / FILE, json.dumps(asdict(self)))

    @classmethod
    def load(cls, gen_dir: Path) -> Calibration | None:
        try:
            data = json.loads((gen_dir / FILE).read_text(encoding="utf-8"))
            return cls(**{k: Threshold(**v) if v else None for k, v in data.items()})
        except (OSError, ValueError, TypeError):
            return None


# One probe: a question and the article that should answer it (None: nothing should).
Probe = tuple[str, str | None]
# A search as calibration sees it: question -> (first article's slug, confidence).
Ask = Callable[[str], tuple[str | None, float]]


def probes(catalog: Iterable[dict[str, object]], headings: Callable[[str], list[str]]) -> list[Probe]:
    """Titles and headings of the articles, evenly sampled to at most MAX_PROBES."""
    found: list[Probe] = []
    for meta in sorted(catalog, key=lambda m: str(m["slug"])):
        slug = str(meta["slug"])
        found.append((str(meta["title"]), slug))
        found.extend((h, slug) for h in headings(slug) if len(h.split()) >= 2)
    step = max(1, len(found) // MAX_PROBES)
    return found[::step][:MAX_PROBES]


def calibrate(ask: Ask, answerable: list[Probe], semantic: bool) -> Threshold:
    hits = sorted(conf for question, slug in answerable
                  if (found := ask(question))[0] == slug and (conf := found[1]) > 0)
    misses = sorted(ask(question)[1] for question in OFF_TOPIC)
    if len(hits) < 5:  # too few articles to learn from: keep the default
        return Threshold(DEFAULT_THRESHOLD[semantic], len(hits), 0.0, _percentile(misses, 0.9))
    low, high = _percentile(hits, 0.1), _percentile(misses, 0.9)
    threshold = high + (low - high) * (1 - ANSWERABLE_SHARE) if low > high else (low + high) / 2
    threshold = round(min(HIGHEST, max(LOWEST, threshold)), 3)
    return Threshold(threshold, len(hits), round(low, 3), round(high, 3))


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(share * (len(values) - 1) + 0.5))]
