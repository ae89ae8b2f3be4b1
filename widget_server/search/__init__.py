"""Search over the knowledge base: index generations built aside and swapped in whole, and
the queries visitors type answered from the live one.

Modules, one job each:
  layout      the index directory on disk: CURRENT, gen-N/, catalog.json, words.json
  schema      the Whoosh schema; one article analyzed into one document
  build       reindex: a generation written aside, fsynced, renamed, made CURRENT; pruning
  engine      BM25F impacts read from Whoosh's postings (the only code touching its internals)
  query       query words, synonyms, clauses (never Whoosh's query language)
  typos       the vocabulary that corrects misspelled words
  snippets    the marked excerpt under each hit
  results     Hit, Answer, SearchResult and their JSON
  generation  one opened generation: scoring, top documents, hits, result cache
  service     SearchService: follows CURRENT, swaps generations, looks articles up

Words, stop words, stemming and edit distance come from widget_server.text.
"""

from .build import ReindexBusy, ReindexResult, reindex
from .generation import Generation
from .layout import current_generation
from .query import Synonyms
from .results import Answer, Hit, SearchResult, encode_json
from .service import SearchService

__all__ = [
    "Answer", "Generation", "Hit", "ReindexBusy", "ReindexResult", "SearchResult", "SearchService",
    "Synonyms", "current_generation", "encode_json", "reindex",
]
