"""Texts -> CLIP BPE token ids, identical to the reference tokenizer.

open_clip's ``SimpleTokenizer`` is the same BPE (same vocabulary, ftfy + HTML clean-up,
lower-casing, end token kept last when a text is cut), so it is used rather than a copy.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from engine.preprocess.errors import CorruptFile, InvalidSignal
from engine.preprocess.files import DEFAULT_LIMITS, Limits, check_file
from engine.preprocess.spec import DEFAULT_SPEC, PreprocessSpec


@lru_cache(maxsize=1)
def _tokenizer():
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer()


def import_dependencies() -> None:
    """Build the tokenizer now (open_clip is imported and its vocabulary read on first use)."""
    _tokenizer()


def tokenize(texts: str | list[str], spec: PreprocessSpec | None = None) -> torch.Tensor:
    """Texts -> LongTensor [N, context_length] (start token, BPE ids, end token, zero padding)."""
    spec = spec or DEFAULT_SPEC
    if isinstance(texts, str):
        texts = [texts]
    return _tokenizer()(list(texts), context_length=spec.text_context_length)


def read_text(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """A ``.txt`` file's text (UTF-8, a byte-order mark tolerated), refusing binary or blank files."""
    path = check_file(path, limits, max_bytes=limits.max_text_bytes)
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise CorruptFile(path, "binary data in a text file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CorruptFile(path, f"not UTF-8 text (byte {error.start})") from None
    text = text.strip()
    if not text:
        raise InvalidSignal(path, "the text file holds only white space")
    return text


def load_text(path: str | Path, spec: PreprocessSpec | None = None, *, limits: Limits = DEFAULT_LIMITS) -> torch.Tensor:
    """A ``.txt`` file -> LongTensor [context_length]; texts longer than the context are cut."""
    return tokenize(read_text(path, limits=limits), spec)[0]
