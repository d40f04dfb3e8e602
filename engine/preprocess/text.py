"""Texts -> CLIP BPE token ids, identical to the reference tokenizer for every text that fits the context.

open_clip's ``SimpleTokenizer`` is the same BPE (same vocabulary, ftfy + HTML clean-up,
lower-casing, end token kept last when a text is cut), so its vocabulary, clean-up and BPE are
used rather than a copy. It encodes a whole text before cutting it to the context, and BPE is
quadratic in a word's length (one 1 MB word never finished), so the text is cut first:

* only the first ``context x _RAW_CHARS_PER_TOKEN`` characters are cleaned (cut at a space);
* words are encoded one by one until the context is full;
* a word is cut to the characters its share of the context can hold (no token is longer than
  the vocabulary's longest), so only a word that could never fit is shortened;
* BPE merges through a heap (``byte_pair_encode``), the reference's merges in O(n log n).

A text that fits (at most ``context - 2`` tokens) gives exactly the reference's tokens.
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


# Raw characters cleaned per context token: a text that fits holds at most 32 characters a token,
# so only runs of white space, HTML entities or mojibake many times that long are ever cut.
_RAW_CHARS_PER_TOKEN = 256


@lru_cache(maxsize=1)
def _longest_token() -> int:
    """The most byte-characters one vocabulary entry spans (32 for CLIP's)."""
    return max(len(token.removesuffix("</w>")) for token in _tokenizer().encoder)


def tokenize(texts: str | list[str], spec: PreprocessSpec | None = None) -> torch.Tensor:
    """Texts -> LongTensor [N, context_length] (start token, BPE ids, end token, zero padding)."""
    spec = spec or DEFAULT_SPEC
    if isinstance(texts, str):
        texts = [texts]
    tokenizer = _tokenizer()
    context = spec.text_context_length
    result = torch.zeros(len(texts), context, dtype=torch.long)
    for row, text in enumerate(texts):
        ids = [tokenizer.sot_token_id, *leading_tokens(text, context - 2), tokenizer.eot_token_id]
        result[row, : len(ids)] = torch.tensor(ids)
    return result


def leading_tokens(text: str, limit: int) -> list[int]:
    """The first ``limit`` BPE ids of ``text``, as the reference's ``encode(text)[:limit]``, in time bounded by ``limit``."""
    import regex

    tokenizer = _tokenizer()
    raw_limit = max(limit, 1) * _RAW_CHARS_PER_TOKEN
    if len(text) > raw_limit:
        space = max(text.rfind(" ", 0, raw_limit), text.rfind("\n", 0, raw_limit))
        text = text[: space if space > 0 else raw_limit]
    ids: list[int] = []
    for word in regex.finditer(tokenizer.pat, tokenizer.clean_fn(text)):
        if len(ids) >= limit:
            break
        encoded = "".join(tokenizer.byte_encoder[b] for b in word.group().encode("utf-8"))
        encoded = encoded[: (limit - len(ids)) * _longest_token()]
        ids.extend(tokenizer.encoder[piece] for piece in byte_pair_encode(encoded, tokenizer.bpe_ranks))
    return ids[:limit]


def byte_pair_encode(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """The reference's BPE of one word (``SimpleTokenizer.bpe``) in O(n log n) instead of O(n^2).

    The reference repeatedly merges every occurrence of the lowest-ranked pair, left to right,
    and rescans the word. Here the pairs wait in a heap by (rank, position): all pairs of the
    lowest rank are merged in position order, skipping those an earlier merge consumed, and the
    pairs a merge creates join the heap (never with the same rank: a merged symbol is longer than
    either half). The same merges in the same order, so the same pieces.
    """
    import heapq
    import itertools

    symbols = [*word[:-1], word[-1] + "</w>"]
    following = list(range(1, len(symbols) + 1))
    preceding = list(range(-1, len(symbols) - 1))
    heap = [(ranks[pair], i, pair) for i, pair in enumerate(itertools.pairwise(symbols)) if pair in ranks]
    heapq.heapify(heap)

    def push(left: int) -> None:
        right = following[left] if left >= 0 else len(symbols)
        if left >= 0 and right < len(symbols):
            pair = (symbols[left], symbols[right])
            if pair in ranks:
                heapq.heappush(heap, (ranks[pair], left, pair))

    while heap:
        rank = heap[0][0]
        batch = []
        while heap and heap[0][0] == rank:
            batch.append(heapq.heappop(heap))
        for _, left, pair in sorted(batch, key=lambda entry: entry[1]):
            right = following[left]
            if symbols[left] is None or right >= len(symbols) or (symbols[left], symbols[right]) != pair:
                continue  # consumed or changed by an earlier merge
            symbols[left] = pair[0] + pair[1]
            symbols[right] = None
            following[left] = following[right]
            if following[left] < len(symbols):
                preceding[following[left]] = left
            push(preceding[left])
            push(left)
    return [symbol for symbol in symbols if symbol is not None]


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
