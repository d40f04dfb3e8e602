"""Queries over a library: weighted terms -> one vector -> nearest items; zero-shot labels.

A term is a library item, a moment (one window of a long recording in the library), an outside file of
any modality, or a text, with a weight (negative subtracts). The composed vector is the weighted sum of the terms' unit embeddings,
re-normalised: one term with weight 1 is the plain nearest-neighbour search. Zero-shot
probabilities follow the reference: the query's scaled output against each label's scaled text
embedding (prompt templates averaged), then a softmax.

Terms reuse what is known before anything is encoded: a file that is a library item, or a copy
of one (same content hash), or a text already in the library, takes its stored embedding; every
encoded term is cached by what identifies it (kind, value, modality, file size and time,
model), so moving a weight slider is arithmetic and a search, never a re-encode. Label
embeddings are stored in the library, so zero-shot works without the model once labels were
embedded.

A moments query ranks the windows of long recordings instead of whole files (the same composed
vector, the same filters and exclusions, over the segment index): each hit is a ``Moment``, an
item with a span in seconds.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.library import Library, display, hash_file, hash_text
from engine.modality import Modality
from engine.models.identity import ModelRef
from engine.preprocess.detect import detect_modality
from engine.preprocess.errors import PreprocessError, UnsupportedFile
from engine.prompts import ZERO_SHOT_TEMPLATES
from engine.search_index import Allowed, Hit, SearchIndex

if TYPE_CHECKING:  # the model and encoder (and torch) load on first use, off the start-up path
    from engine.encoder import Encoder

_HASH_FILES_UP_TO = 512 * 1024**2  # a dropped file this small is hashed to find a stored copy of it
_CACHED_TERMS = 256
BEST_FOR = 12  # file hits of each modality whose best windows a search scores (a card row or two)
BEST_PER_ITEM = 3
SPAN_TOLERANCE = 0.051  # seconds: a moment's span as shown (to a tenth of a second) still finds its window
MOMENTS_LISTED = 8  # windows named, nearest the asked span first, when a moment term finds none


class QueryError(Exception):
    """A query that cannot be run; ``cause`` holds a loader's error when a term's file was bad."""

    def __init__(self, message: str, cause: PreprocessError | None = None):
        super().__init__(message)
        self.cause = cause


class NoSuchMoment(QueryError):
    """A moment term whose span is no stored window of its item; ``windows`` are the item's (start, end) spans."""

    def __init__(self, message: str, item_id: int, span: tuple[float, float], windows: list[tuple[float, float]]):
        super().__init__(message)
        self.item_id, self.span, self.windows = item_id, span, windows


class ModelMissing(QueryError):
    """The work needs the library's model, whose weights are not on this machine."""

    def __init__(self, ref: ModelRef, what: str, hint: str):
        super().__init__(f"{what} needs the model {ref.title} ({ref.name}), which is not on this machine; {hint}")
        self.ref = ref


@dataclass(frozen=True)
class Term:
    kind: str  # "item", "moment", "file" or "text"
    value: int | str
    weight: float = 1.0
    modality: Modality | None = None  # for files: overrides detection
    span: tuple[float, float] | None = None  # for moments: the window's start and end in seconds

    @classmethod
    def item(cls, item_id: int, weight: float = 1.0) -> Term:
        return cls("item", int(item_id), weight)

    @classmethod
    def moment(cls, item_id: int, start: float, end: float, weight: float = 1.0) -> Term:
        """One stored window of an item (a long recording): searches by that window's vector."""
        return cls("moment", int(item_id), weight, span=(float(start), float(end)))

    @classmethod
    def file(cls, path: str | Path, weight: float = 1.0, modality: Modality | str | None = None) -> Term:
        return cls("file", os.fspath(path), weight, Modality.parse(modality) if modality else None)

    @classmethod
    def text(cls, text: str, weight: float = 1.0) -> Term:
        return cls("text", display(text).strip(), weight, Modality.TEXT)


@dataclass(frozen=True)
class Embedded:
    """A term's unit embedding, its scale (embedding * scale is the model's output) and modality."""

    term: Term
    vector: np.ndarray
    scale: float
    modality: Modality
    item_id: int | None = None


@dataclass(frozen=True)
class Moment:
    """A window of a long recording that matched: the item, its span in seconds, the score."""

    item_id: int
    start: float
    end: float
    score: float
    modality: Modality


@dataclass
class Results:
    vector: np.ndarray
    terms: list[Embedded]
    by_modality: dict[Modality, list[Hit]] = field(default_factory=dict)
    merged: list[Hit] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)  # a moments query's hits, best first across modalities
    best: dict[int, list[Moment]] = field(default_factory=dict)  # a file hit's best windows, best first

    def composed(self) -> Embedded:
        """The composed query as one embedding for zero-shot labels; its scale is the terms' weighted mean."""
        weights = np.abs([e.term.weight for e in self.terms])
        scale = float(np.dot(weights, [e.scale for e in self.terms]) / max(weights.sum(), 1e-9))
        first = self.terms[0]
        return Embedded(first.term, self.vector, scale, first.modality)


def compose(vectors: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Weighted sum of unit vectors, re-normalised."""
    if not vectors:
        raise QueryError("the query has no terms")
    if not all(math.isfinite(w) for w in weights):
        raise QueryError("weights must be finite numbers")
    total = np.sum([w * np.asarray(v, np.float32) for v, w in zip(vectors, weights, strict=True)], axis=0)
    norm = float(np.linalg.norm(total))
    if not norm >= 1e-6:
        raise QueryError("the weights cancel out: the composed query is zero")
    return (total / norm).astype(np.float32)


class TermCache:
    """The last encoded terms by what identifies them; a file's entry is keyed by its size and time too."""

    def __init__(self, size: int = _CACHED_TERMS):
        self._entries: OrderedDict[tuple, Embedded] = OrderedDict()
        self._size = size

    def get(self, key: tuple) -> Embedded | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple, embedded: Embedded) -> None:
        self._entries[key] = embedded
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


class Searcher:
    """Search and classify in one library with one model (``ref``); ``encoder()`` gives the model's encoder,
    loading it on first use, or raises ``ModelMissing``."""

    def __init__(
        self,
        library: Library,
        ref: ModelRef,
        index: SearchIndex,
        encoder: Callable[[str], Encoder],
        cache: TermCache,
        segments: SearchIndex | None = None,
    ):
        self.library = library
        self.ref = ref
        self.key = library.key_of(ref) or ref.key
        self.index = index
        self.segments = segments
        self._encoder = encoder
        self.cache = cache

    # -- terms ------------------------------------------------------------------------------

    def embed_term(self, term: Term) -> Embedded:
        if term.kind == "item":
            return self._item(term)
        if term.kind == "moment":
            return self._moment(term)
        if term.kind == "text":
            return self._text(term)
        if term.kind == "file":
            return self._file(term)
        raise QueryError(f"unknown term kind {term.kind!r}")

    def _item(self, term: Term) -> Embedded:
        item = self.library.item(int(term.value))
        stored = self.library.embedding(item.id, self.key) if item else None
        if stored is None:
            raise QueryError(f"item {term.value} is not in the library or not embedded with {self.ref.title}")
        return Embedded(term, stored[0], stored[1], item.modality, item.id)

    def _moment(self, term: Term) -> Embedded:
        """A window's stored vector. Its file is not left out of the results (no ``item_id``): the same
        recording's other moments are what such a query is often after. A span written to a tenth of a second (as
        times are shown) finds the nearest stored window within ``SPAN_TOLERANCE`` of both its ends."""
        start, end = term.span
        windows = [(s, e) for s, e, _ in self.library.segments_of(self.key, int(term.value))]
        near = min(windows, key=lambda w: abs(w[0] - start) + abs(w[1] - end), default=None)
        if near is not None and max(abs(near[0] - start), abs(near[1] - end)) <= SPAN_TOLERANCE:
            start, end = near
        found = self.library.segment_at(self.key, int(term.value), start, end)
        committed = self.library.segment_rows(self.key)
        if found is None or found[1] >= committed.get(found[0], 0):
            raise self._no_such_moment(int(term.value), term.span, windows)
        modality, row, scale = found
        vector = self.library.segment_store(self.key).gather(modality, committed[modality], np.array([row]))[0]
        return Embedded(term, np.asarray(vector, np.float32), scale, modality)

    def _no_such_moment(self, item_id: int, span: tuple[float, float], windows: list[tuple[float, float]]):
        item = self.library.item(item_id)
        name = f"{display(item.path or item.text or '')} (item {item_id})" if item else f"item {item_id}"
        if not windows:
            held = "it has no windows (not a long recording, or not cut yet)"
        else:
            nearest = sorted(windows, key=lambda w: abs(w[0] - span[0]))[:MOMENTS_LISTED]
            held = f"its {len(windows)} windows (s) include " + ", ".join(f"{s:g}–{e:g}" for s, e in sorted(nearest))
        return NoSuchMoment(
            f"{name} has no moment {span[0]:g}–{span[1]:g} s embedded with {self.ref.title}; {held}",
            item_id,
            span,
            windows,
        )

    def _text(self, term: Term) -> Embedded:
        text = str(term.value)
        if not text:
            raise QueryError("the text is empty")
        key = ("text", text, self.key)
        cached = self.cache.get(key)
        if cached is None:
            stored = self.library.embedding_by_hash(hash_text(text), Modality.TEXT, self.key)
            if stored is not None:
                cached = Embedded(term, stored[0], stored[1], Modality.TEXT)
            else:
                [result] = self._encoder("a text query").encode_texts([text])
                if not result.ok:
                    raise QueryError(str(result.error), result.error)
                cached = Embedded(term, result.embedding, result.scale, Modality.TEXT)
            self.cache.put(key, cached)
        return Embedded(term, cached.vector, cached.scale, Modality.TEXT)

    def _file(self, term: Term) -> Embedded:
        path = str(term.value)
        try:
            info = os.stat(path)
        except OSError as error:
            raise QueryError(f"{display(path)}: cannot read it ({error.strerror or error})") from None
        key = ("file", os.path.realpath(path), term.modality, info.st_size, info.st_mtime_ns, self.key)
        cached = self.cache.get(key)
        if cached is None:
            cached = self._stored_file(term, path, info) or self._encode_file(term, path)
            self.cache.put(key, cached)
        return Embedded(term, cached.vector, cached.scale, cached.modality, cached.item_id)

    def _stored_file(self, term: Term, path: str, info: os.stat_result) -> Embedded | None:
        """A file that is a library item (unchanged), or a copy of one: its stored embedding."""
        item = self.library.item_by_path(path)
        if (
            item is not None
            and (term.modality in (None, item.modality))
            and (item.size, item.mtime)
            == (
                info.st_size,
                info.st_mtime,
            )
        ):
            stored = self.library.embedding(item.id, self.key)
            if stored is not None:
                return Embedded(term, stored[0], stored[1], item.modality, item.id)
        if info.st_size > _HASH_FILES_UP_TO:
            return None
        modality = term.modality or detect_modality(path)
        if modality is None:
            return None
        try:
            stored = self.library.embedding_by_hash(hash_file(path), modality, self.key)
        except OSError:
            return None
        return Embedded(term, stored[0], stored[1], modality) if stored else None

    def _encode_file(self, term: Term, path: str) -> Embedded:
        modality = term.modality or detect_modality(path)
        if modality is None:
            error = UnsupportedFile(path, "no loader reads this kind of file")
            raise QueryError(str(error), error)
        [result] = self._encoder("a file query").encode_files(modality, [path])
        if not result.ok:
            raise QueryError(str(result.error), result.error)
        item = self.library.item_by_path(path)
        return Embedded(term, result.embedding, result.scale, modality, item.id if item else None)

    # -- search and classify ----------------------------------------------------------------

    def search(
        self,
        terms: list[Term],
        k: int = 10,
        modalities: list[Modality] | None = None,
        allowed: Allowed | None = None,
        min_score: float | None = None,
        moments: bool = False,
    ) -> Results:
        """Top ``k`` per requested modality and across them, excluding the query's own items, of the items
        ``allowed`` lets through (all by default) scoring at least ``min_score``; equal scores rank by item id,
        so the results for k are the first k of the results for any larger k. With ``moments``, the hits are
        windows of long recordings (``Results.moments``) of those items, ranked the same way."""
        if k < 1:
            raise QueryError("the number of results must be at least 1")
        if moments and self.segments is None:
            raise QueryError("this search has no moments to look in")
        embedded = [self.embed_term(t) for t in terms]
        vector = compose([e.vector for e in embedded], [e.term.weight for e in embedded])
        exclude = {e.item_id for e in embedded if e.item_id is not None}
        by_modality = (self.segments if moments else self.index).search(vector, k, modalities, exclude, allowed)
        if min_score is not None:
            by_modality = {m: [h for h in hits if h.score >= min_score] for m, hits in by_modality.items()}
        merged = sorted((h for hits in by_modality.values() for h in hits), key=lambda h: (-h.score, h.item_id))[:k]
        results = Results(vector, embedded, by_modality, merged)
        if moments:
            results.moments = self._moments(merged)
        else:
            results.best = self.best_moments(vector, [h for hits in by_modality.values() for h in hits[:BEST_FOR]])
        return results

    def best_moments(
        self, vector: np.ndarray, hits: list[Hit], per_item: int = BEST_PER_ITEM
    ) -> dict[int, list[Moment]]:
        """The ``per_item`` best windows of each hit that has any, scored exactly: where in the file it matches."""
        best: dict[int, list[Moment]] = {}
        for hit in hits:
            windows = self.window_scores(vector, hit.item_id, hit.modality)
            if windows:
                best[hit.item_id] = sorted(windows, key=lambda m: -m.score)[:per_item]  # stable: earlier first
        return best

    def window_scores(self, vector: np.ndarray, item_id: int, modality: Modality) -> list[Moment]:
        """Every window of one item scored exactly against ``vector``, in time order (none for a file without
        windows). A file's windows are one run of rows (appended in one transaction), read from the map where
        they lie."""
        committed = self.library.segment_rows(self.key)
        spans = self.library.segments_of(self.key, item_id) if committed.get(modality) else []
        if not spans:
            return []
        store = self.library.segment_store(self.key)
        rows = np.array([row for _, _, row in spans], np.int64)
        first, last = int(rows.min()), int(rows.max())
        if last - first + 1 == len(rows):  # one run: scored straight from the map, nothing copied
            vectors = store.view(modality, committed[modality])[first : last + 1]
            scores = np.asarray(vectors @ vector, np.float32)[rows - first]
        else:
            order = np.argsort(rows, kind="stable")
            scores = np.empty(len(rows), np.float32)
            scores[order] = store.gather(modality, committed[modality], rows[order]) @ vector
        return [
            Moment(item_id, start, end, float(score), modality)
            for (start, end, _), score in zip(spans, scores.tolist(), strict=True)
        ]

    def _moments(self, hits: list[Hit]) -> list[Moment]:
        """Segment hits with their spans, in the hits' order."""
        spans: dict[tuple[Modality, int], dict[int, tuple[float, float]]] = {}
        for modality in {h.modality for h in hits}:
            rows = [h.row for h in hits if h.modality is modality]
            for row, held in self.library.segments_at_rows(self.key, modality, rows).items():
                spans[modality, row] = {item: (start, end) for item, start, end in held}
        return [
            Moment(h.item_id, *spans[h.modality, h.row][h.item_id], h.score, h.modality)
            for h in hits
            if h.item_id in spans.get((h.modality, h.row), {})
        ]

    def label_embeddings(
        self, labels: list[str], templates: tuple[str, ...] = ZERO_SHOT_TEMPLATES
    ) -> tuple[np.ndarray, np.ndarray]:
        """Unit text embeddings per label (its prompts averaged) and their scales: stored ones, else encoded
        (and stored for next time)."""
        known = self.library.label_vectors(self.key, labels, templates)
        missing = [label for label in labels if label not in known]
        if missing:
            encoder = self._encoder(f"zero-shot labels not embedded yet ({', '.join(missing[:5])})")
            results = encoder.encode_texts([t.format(label) for label in missing for t in templates])
            failed = next((r for r in results if not r.ok), None)
            if failed is not None:
                raise QueryError(str(failed.error), failed.error)
            vectors = np.stack([r.embedding for r in results]).reshape(len(missing), len(templates), -1).mean(axis=1)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            scales = np.array([r.scale for r in results], np.float32).reshape(len(missing), len(templates)).mean(axis=1)
            fresh = {label: (vectors[n].astype(np.float32), float(scales[n])) for n, label in enumerate(missing)}
            self.library.save_label_vectors(self.key, templates, fresh)
            known.update(fresh)
        return (
            np.stack([known[label][0] for label in labels]),
            np.array([known[label][1] for label in labels], np.float32),
        )

    def classify(
        self, target: Term | Embedded, labels: list[str], templates: tuple[str, ...] = ZERO_SHOT_TEMPLATES
    ) -> list[tuple[str, float]]:
        """Probabilities of each label, best first: softmax of scaled query x scaled label texts."""
        labels = [label for label in dict.fromkeys(display(label).strip() for label in labels) if label]
        if not labels:
            raise QueryError("no labels to classify against")
        embedded = target if isinstance(target, Embedded) else self.embed_term(target)
        vectors, scales = self.label_embeddings(labels, templates)
        logits = (embedded.vector * embedded.scale) @ (vectors * scales[:, None]).T
        logits = logits - logits.max()
        probabilities = np.exp(logits) / np.exp(logits).sum()
        return sorted(zip(labels, probabilities.tolist(), strict=True), key=lambda p: -p[1])
