"""Running a loader so that any failure comes back as a value naming the item, never as a raise."""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.preprocess.errors import CorruptFile, DeviceOutOfMemory, PreprocessError


def load_safely(load: Callable[[str], torch.Tensor], source: str) -> torch.Tensor | PreprocessError:
    try:
        return load(source)
    except PreprocessError as error:
        return error
    except (MemoryError, torch.OutOfMemoryError) as error:  # the machine's state, not the file's: retried later
        return DeviceOutOfMemory(
            source, f"out of memory while decoding it ({type(error).__name__}); it will be tried again"
        )
    except RuntimeError as error:
        if "allocate memory" in str(error):  # torch's CPU allocator failing
            return DeviceOutOfMemory(source, "out of memory while decoding it; it will be tried again")
        return CorruptFile(source, f"unexpected {type(error).__name__} while decoding: {error}")
    except Exception as error:  # a decoder bug must not stop a batch; report it on the item
        return CorruptFile(source, f"unexpected {type(error).__name__} while decoding: {error}")
