"""Queries over a library: weighted terms -> one vector -> nearest items; zero-shot labels.

A term is a library item, an outside file of any modality, or a text, with a weight
(negative subtracts). The composed vector is the weighted sum of the terms' unit embeddings,
re-normalised: one term with weight 1 is the plain nearest-neighbour search. Zero-shot
probabilities follow the reference: the query's scaled output against each label's scaled
text embedding (prompt templates averaged), then a softmax.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.index import Hit, VectorIndex
from engine.library import Library
from engine.modality import Modality
from engine.preprocess.detect import detect_modality
from engine.preprocess.errors import PreprocessError, UnsupportedFile
from engine.prompts import ZERO_SHOT_TEMPLATES

if TYPE_CHECKING:  # the model and encoder (and torch) load on first use, off the app's start-up path
    from engine.encoder import Encoder
    from engine.models.factory import LoadedModel


class QueryError(Exception):
    """A query that cannot be run; ``cause`` holds a loader's error when a term's file was bad."""

    def __init__(self, message: str, cause: PreprocessError | None = None):
        super().__init__(message)
        self.cause = cause


@dataclass(frozen=True)
class Term:
    kind: str  # "item", "file" or "text"
    value: int | str
    weight: float = 1.0
    modality: Modality | None = None  # for files: overrides detection

    @classmethod
    def item(cls, item_id: int, weight: float = 1.0) -> Term:
        return cls("item", int(item_id), weight)

    @classmethod
    def file(cls, path: str | Path, weight: float = 1.0, modality: Modality | str | None = None) -> Term:
        return cls("file", str(path), weight, Modality.parse(modality) if modality else None)

    @classmethod
    def text(cls, text: str, weight: float = 1.0) -> Term:
        return cls("text", text, weight, Modality.TEXT)


@dataclass(frozen=True)
class Embedded:
    """A term's unit embedding, its scale (embedding * scale is the model's output) and modality."""

    term: Term
    vector: np.ndarray
    scale: float
    modality: Modality
    item_id: int | None = None


@dataclass
class Results:
    vector: np.ndarray
    terms: list[Embedded]
    by_modality: dict[Modality, list[Hit]] = field(default_factory=dict)
    merged: list[Hit] = field(default_factory=list)


def compose(vectors: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Weighted sum of unit vectors, re-normalised."""
    if not vectors:
        raise QueryError("the query has no terms")
    total = np.sum([w * np.asarray(v, np.float32) for v, w in zip(vectors, weights, strict=True)], axis=0)
    norm = float(np.linalg.norm(total))
    if norm < 1e-6:
        raise QueryError("the weights cancel out: the composed query is zero")
    return (total / norm).astype(np.float32)


class Searcher:
    """Search and classify against one library with one model (loaded only for files, texts and labels)."""

    def __init__(self, library: Library, model: LoadedModel | None = None, model_name: str | None = None):
        self.library = library
        self.model = model
        self.model_name = model.name if model else (model_name or library.model)
        if self.model_name is None:
            raise QueryError(f"{library.folder}: nothing is embedded yet; index it first")
        self._encoder: Encoder | None = None
        self._index: VectorIndex | None = None
        self._index_token: str | None = None
        self._label_cache: dict[tuple, tuple[np.ndarray, float]] = {}

    # -- the index cache --------------------------------------------------------------------

    @property
    def _index_folder(self) -> Path:
        digest = hashlib.blake2b(self.model_name.encode(), digest_size=6).hexdigest()
        return self.library.cache_dir / f"index-{digest}"

    def index(self) -> VectorIndex:
        """The vector index for the library's current state: from memory, from the cache, or rebuilt."""
        token = self.library.state(self.model_name)
        if self._index is not None and self._index_token == token:
            return self._index
        index = VectorIndex.load(self._index_folder, token)
        if index is None:
            ids, modalities, vectors, _ = self.library.embeddings(self.model_name)
            index = VectorIndex.build(ids, modalities, vectors)
            index.save(self._index_folder, token)
        self._index, self._index_token = index, token
        return index

    # -- terms ------------------------------------------------------------------------------

    def embed_term(self, term: Term) -> Embedded:
        if term.kind == "item":
            item = self.library.item(int(term.value))
            stored = self.library.embedding(int(term.value), self.model_name) if item else None
            if stored is None:
                raise QueryError(f"item {term.value} is not in the library or not embedded with {self.model_name}")
            return Embedded(term, stored[0], float(stored[1]), item.modality, item.id)
        if term.kind == "file":
            known = self._library_file(term)
            if known is not None:
                return known
        encoder = self._require_encoder()
        if term.kind == "text":
            [result] = encoder.encode_texts([str(term.value)])
            modality = Modality.TEXT
        elif term.kind == "file":
            modality = term.modality or detect_modality(term.value)
            if modality is None:
                error = UnsupportedFile(term.value, "no loader reads this kind of file")
                raise QueryError(str(error), error)
            [result] = encoder.encode_files(modality, [term.value])
        else:
            raise QueryError(f"unknown term kind {term.kind!r}")
        if not result.ok:
            raise QueryError(str(result.error), result.error)
        item = self.library.item_by_path(term.value)
        return Embedded(term, result.embedding, result.scale, modality, item.id if item else None)

    def _library_file(self, term: Term) -> Embedded | None:
        """A dropped file that is a library item, unchanged since indexing: its stored embedding, and it is excluded."""
        try:
            item = self.library.item_by_path(term.value)
            info = Path(term.value).stat()
        except OSError:
            return None
        if item is None or (term.modality and term.modality is not item.modality):
            return None
        if (item.size, item.mtime) != (info.st_size, info.st_mtime):
            return None
        stored = self.library.embedding(item.id, self.model_name)
        return Embedded(term, stored[0], float(stored[1]), item.modality, item.id) if stored else None

    def _require_encoder(self) -> Encoder:
        if self.model is None:
            raise QueryError("files and texts need a loaded model")
        if self._encoder is None:
            from engine.encoder import Encoder

            self._encoder = Encoder(self.model)
        return self._encoder

    # -- search and classify ----------------------------------------------------------------

    def search(self, terms: list[Term], k: int = 10, modalities: list[Modality] | None = None) -> Results:
        """Top ``k`` per requested modality and across them, excluding the query's own items."""
        embedded = [self.embed_term(t) for t in terms]
        vector = compose([e.vector for e in embedded], [e.term.weight for e in embedded])
        exclude = {e.item_id for e in embedded if e.item_id is not None}
        index = self.index()
        by_modality = index.search(vector, k, modalities, exclude)
        merged = sorted((h for hits in by_modality.values() for h in hits), key=lambda h: -h.score)[:k]
        return Results(vector, embedded, by_modality, merged)

    def label_embeddings(
        self, labels: list[str], templates: tuple[str, ...] = ZERO_SHOT_TEMPLATES
    ) -> tuple[np.ndarray, float]:
        """Unit text embeddings per label (its prompts averaged) and the text logit scale."""
        key = (tuple(labels), tuple(templates))
        if key not in self._label_cache:
            results = self._require_encoder().encode_texts([t.format(label) for label in labels for t in templates])
            vectors = np.stack([r.embedding for r in results]).reshape(len(labels), len(templates), -1).mean(axis=1)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            self._label_cache[key] = (vectors.astype(np.float32), self.model.model.logit_scale(Modality.TEXT))
        return self._label_cache[key]

    def classify(
        self, target: Term | Embedded, labels: list[str], templates: tuple[str, ...] = ZERO_SHOT_TEMPLATES
    ) -> list[tuple[str, float]]:
        """Probabilities of each label, best first: softmax of scaled query x scaled label texts."""
        labels = [label for label in dict.fromkeys(labels) if label.strip()]
        if not labels:
            raise QueryError("no labels to classify against")
        embedded = target if isinstance(target, Embedded) else self.embed_term(target)
        vectors, text_scale = self.label_embeddings(labels, templates)
        logits = (embedded.vector * embedded.scale) @ (vectors * text_scale).T
        logits = logits - logits.max()
        probabilities = np.exp(logits) / np.exp(logits).sum()
        return sorted(zip(labels, probabilities.tolist(), strict=True), key=lambda p: -p[1])
