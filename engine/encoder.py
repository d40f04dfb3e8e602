"""Embed many items of one modality in batches, with decoding running ahead in worker threads.

Decoders (Pillow, libsndfile, NumPy, torchvision) release the GIL, so a small thread pool
keeps the next batches decoded while the model runs on the current one; the loader and what
it imports are imported before the pool starts, since imports racing in threads fail. On
CUDA, batches are pinned and copied without blocking, and a batch that runs out of memory is
split in half and retried. A bad item becomes an ``EncodeResult`` with its error; it never
stops the batch. Every embedding is checked finite: an input that drives the model out of
range is an ``InvalidSignal`` on its item, never a NaN vector. The encoder keeps the seconds the
model ran and the seconds it stood waiting for a decoded input, so a run says which one bounds it.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from engine.modality import Modality
from engine.models.factory import LoadedModel
from engine.preprocess import DeviceOutOfMemory, InvalidSignal, PreprocessError, prepare_loader, tokenize
from engine.preprocess.files import DEFAULT_LIMITS, Limits
from engine.preprocess.safe import load_safely
from engine.preprocess.windows import HOP_FRACTION, Segment, SegmentEmbeddings
from engine.progress import Cancelled, Progress, never

_OUT_OF_RANGE = "the model's output is not finite (NaN or infinity): the input drives it out of range"


@dataclass
class EncodeResult:
    """One item's outcome: a unit-norm embedding and its scale, or the error that stopped it.

    ``embedding * scale`` is the model's post-processed output (the reference's scaled
    embedding, used for zero-shot probabilities); ``embedding`` alone is for retrieval.
    """

    index: int
    source: str
    embedding: np.ndarray | None = None
    scale: float | None = None
    error: PreprocessError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Encoder:
    def __init__(
        self,
        model: LoadedModel,
        *,
        batch_size: int | None = None,
        workers: int | None = None,
        limits: Limits = DEFAULT_LIMITS,
        reduced_jpeg: bool = False,
    ):
        self.model = model
        self.reduced_jpeg = reduced_jpeg  # JPEG pictures decoded at a reduced size (engine.preprocess.image)
        self.batch_size = batch_size or (64 if model.runtime.is_cuda else 16)
        self.workers = workers or max(2, min(8, os.cpu_count() or 2))
        self.limits = limits
        self.model_seconds = 0.0  # in the model's calls
        self.waited_seconds = 0.0  # the model idle: the next input not decoded yet

    def _wait(self, future: Future):
        start = time.perf_counter()
        try:
            return future.result()
        finally:
            self.waited_seconds += time.perf_counter() - start

    def encode_files(
        self,
        modality: Modality,
        paths: Sequence[str | Path],
        progress: Progress | None = None,
        cancelled: Cancelled = never,
    ) -> list[EncodeResult]:
        return sorted(self.iter_files(modality, paths, progress, cancelled), key=lambda r: r.index)

    def encode_texts(self, texts: Sequence[str]) -> list[EncodeResult]:
        prepare_loader(Modality.TEXT)
        return sorted(self._iterate(Modality.TEXT, list(texts), self._tokenize), key=lambda r: r.index)

    def iter_files(
        self,
        modality: Modality,
        paths: Sequence[str | Path],
        progress: Progress | None = None,
        cancelled: Cancelled = never,
    ) -> Iterator[EncodeResult]:
        """Results as batches finish (not in input order); stops early, cleanly, when ``cancelled()``."""
        loader = prepare_loader(modality)
        if self.reduced_jpeg and modality is Modality.VISION:
            loader = partial(loader, reduced_jpeg=True)
        spec, limits = self.model.spec, self.limits
        return self._iterate(
            modality, [str(p) for p in paths], lambda source: loader(source, spec, limits=limits), progress, cancelled
        )

    def encode_segments(
        self,
        modality: Modality,
        path: str | Path,
        progress: Progress | None = None,
        cancelled: Cancelled = never,
        *,
        hop_fraction: float = HOP_FRACTION,
    ) -> SegmentEmbeddings:
        """Embed every window of one long recording (see ``engine.preprocess.windows``) in batches, in time order.

        The file is read once, front to back; the worker threads turn windows into model inputs
        ahead of the model. A file that cannot be read raises its ``PreprocessError``; a window
        that fails (no input, or a non-finite output) is listed in ``failed`` and the others go
        on. ``progress("windows", done, total)`` counts windows; ``cancelled()`` stops between windows.
        """
        from engine.preprocess.segments import open_segments

        prepare_loader(modality)
        source = str(path)
        stream = open_segments(modality, path, self.model.spec, hop_fraction=hop_fraction, limits=self.limits)
        result = SegmentEmbeddings(source, complete=False)
        spans: list[tuple[float, float]] = []
        batch: list[tuple[int, str, torch.Tensor]] = []

        def flush() -> None:
            for outcome in self._run(modality, batch):
                start, end = spans[outcome.index]
                if outcome.ok:
                    result.segments.append(Segment(start, end, outcome.embedding, outcome.scale))
                else:
                    result.failed.append((start, end, outcome.error))
            batch.clear()
            if progress:
                progress("windows", len(spans), stream.total)

        ahead: deque[tuple[float, float, Future]] = deque()
        with ThreadPoolExecutor(self.workers, thread_name_prefix="bindscope-segments") as pool:
            try:
                while not cancelled():
                    for window in stream.inputs:
                        ahead.append(
                            (window.start, window.end, pool.submit(load_safely, lambda _, w=window: w.make(), source))
                        )
                        if len(ahead) >= self.batch_size * 2 + self.workers:
                            break
                    if not ahead:
                        result.complete = True
                        break
                    start, end, future = ahead.popleft()
                    spans.append((start, end))
                    outcome = self._wait(future)
                    if isinstance(outcome, PreprocessError):
                        result.failed.append((start, end, outcome))
                    else:
                        batch.append((len(spans) - 1, source, outcome))
                    if len(batch) >= self.batch_size:
                        flush()
                if batch and result.complete:
                    flush()
                elif result.complete and progress:  # the last windows all failed before the model
                    progress("windows", len(spans), stream.total)
            finally:
                for _, _, future in ahead:
                    future.cancel()
                stream.inputs.close()
        return result

    def _tokenize(self, text: str) -> torch.Tensor:
        return tokenize(text, self.model.spec)[0]

    def _iterate(
        self,
        modality: Modality,
        sources: list[str],
        load: Callable[[str], torch.Tensor],
        progress: Progress | None = None,
        cancelled: Cancelled = never,
    ) -> Iterator[EncodeResult]:
        total, reported = len(sources), 0

        def report(count: int) -> None:
            nonlocal reported
            reported += count
            if progress:
                progress("embed", reported, total)

        ahead = self.batch_size * 2 + self.workers
        queue: deque[tuple[int, str, Future]] = deque()
        todo: Iterator[tuple[int, str]] = iter(enumerate(sources))
        batch: list[tuple[int, str, torch.Tensor]] = []
        with ThreadPoolExecutor(self.workers, thread_name_prefix="bindscope-decode") as pool:
            try:
                while not cancelled():
                    for index, source in todo:
                        queue.append((index, source, pool.submit(load_safely, load, source)))
                        if len(queue) >= ahead:
                            break
                    if not queue:
                        break
                    index, source, future = queue.popleft()
                    outcome = self._wait(future)
                    if isinstance(outcome, PreprocessError):
                        yield EncodeResult(index, source, error=outcome)
                        report(1)
                        continue
                    if batch and batch[0][2].shape != outcome.shape:
                        yield from self._run(modality, batch)
                        report(len(batch))
                        batch = []
                    batch.append((index, source, outcome))
                    if len(batch) >= self.batch_size:
                        yield from self._run(modality, batch)
                        report(len(batch))
                        batch = []
                if batch and not cancelled():
                    yield from self._run(modality, batch)
                    report(len(batch))
            finally:
                for _, _, future in queue:
                    future.cancel()

    def _embed(self, modality: Modality, tensors: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        try:
            return self.model.embed(modality, tensors)
        finally:
            self.model_seconds += time.perf_counter() - start

    def _run(self, modality: Modality, batch: list[tuple[int, str, torch.Tensor]]) -> Iterator[EncodeResult]:
        """Encode one batch, halving it on CUDA out-of-memory until single items fail on their own."""
        tensors = torch.stack([t for _, _, t in batch])
        if self.model.runtime.is_cuda:
            tensors = tensors.pin_memory()
        try:
            outputs = self._embed(modality, tensors)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            if len(batch) == 1:
                index, source, _ = batch[0]
                yield EncodeResult(
                    index,
                    source,
                    error=DeviceOutOfMemory(source, "too large for the GPU's free memory; try again later"),
                )
                return
            half = len(batch) // 2
            self.batch_size = max(1, half)
            yield from self._run(modality, batch[:half])
            yield from self._run(modality, batch[half:])
            return
        except RuntimeError as error:  # the model refused these inputs: each item says why, the run goes on
            for index, source, _ in batch:
                yield EncodeResult(
                    index, source, error=InvalidSignal(source, f"the model could not encode it ({error})")
                )
            return
        norms = outputs.norm(dim=-1)
        embeddings = outputs / norms.clamp_min(1e-12)[:, None]
        usable = torch.isfinite(embeddings).all(dim=-1) & torch.isfinite(norms) & (norms > 0)
        for row, (index, source, _) in enumerate(batch):
            if usable[row]:
                yield EncodeResult(index, source, embeddings[row].numpy(), float(norms[row]))
            else:
                yield EncodeResult(index, source, error=InvalidSignal(source, _OUT_OF_RANGE))
