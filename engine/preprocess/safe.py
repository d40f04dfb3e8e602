"""Running a loader so that any failure comes back as a value naming the item, never as a raise."""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.preprocess.errors import CorruptFile, PreprocessError


def load_safely(load: Callable[[str], torch.Tensor], source: str) -> torch.Tensor | PreprocessError:
    try:
        return load(source)
    except PreprocessError as error:
        return error
    except Exception as error:  # a decoder bug must not stop a batch; report it on the item
        return CorruptFile(source, f"unexpected {type(error).__name__} while decoding: {error}")
