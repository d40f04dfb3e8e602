"""Which model a library's vectors came from: a name to find it by, and a fingerprint to be sure.

Two checkpoints named alike (``mine.safetensors`` retrained, or a file replaced) must never
share vectors, and one checkpoint moved to another path must keep them. So a model is known
by a fingerprint of its config, its preprocessing spec and its weights; the name (a zoo name
or a checkpoint path) only says where to look. The weights' part is the checksum BindScope
writes into its safetensors files, else the SHA-256 the zoo pins, else a hash of the file,
computed once and remembered by path, size and modification time in the user cache.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.models.remembered import remembered

if TYPE_CHECKING:
    import torch

    from engine.models.zoo import ModelEntry

UNVERIFIED = "unverified:"  # the fingerprint of a model recorded before fingerprints existed (schema 1)


@dataclass(frozen=True)
class ModelRef:
    """A model as a library records it. ``key`` names its vector files and database rows: short, stable
    and file-name safe; the fingerprint's start for a new model, kept when an old record is verified."""

    name: str
    fingerprint: str
    title: str
    dim: int
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.fingerprint[:16])

    @property
    def verified(self) -> bool:
        return not self.fingerprint.startswith(UNVERIFIED)

    def same_model(self, other: ModelRef | None) -> bool:
        """The same weights and config (a renamed or moved checkpoint is the same model)."""
        return other is not None and self.fingerprint == other.fingerprint


def _describe(entry: ModelEntry) -> bytes:
    return json.dumps({"config": entry.config.to_dict(), "spec": entry.spec.to_dict()}, sort_keys=True).encode()


def fingerprint(entry: ModelEntry, weights_identity: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(_describe(entry))
    digest.update(weights_identity.encode())
    return digest.hexdigest()


def weights_identity(entry: ModelEntry) -> str:
    """What identifies the weights of ``entry``'s file (which must exist)."""
    if entry.weights.sha256:
        return "sha256:" + entry.weights.sha256
    path = entry.weights_path
    if path.suffix == ".safetensors":
        from engine.models.safetensors_header import checksum_of

        checksum = checksum_of(path)
        if checksum:
            return "sha256:" + checksum
    return "blake2b:" + _remembered_file_hash(path)


def ref_for_entry(entry: ModelEntry) -> ModelRef:
    return ModelRef(entry.name, fingerprint(entry, weights_identity(entry)), entry.title, entry.config.out_embed_dim)


def ref_for_network(entry: ModelEntry, network: torch.nn.Module) -> ModelRef:
    """The identity of ``entry``'s model loaded as ``network``: from its file when it has one, else from its tensors
    in memory."""
    if entry.available:
        return ref_for_entry(entry)
    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in sorted(network.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    identity = "memory:" + digest.hexdigest()
    return ModelRef(entry.name, fingerprint(entry, identity), entry.title, entry.config.out_embed_dim)


def _remembered_file_hash(path: Path) -> str:
    """A hash of the file's bytes, remembered so a 4.5 GB checkpoint is read once, not at every start."""

    def read_through() -> str:
        digest = hashlib.blake2b(digest_size=16)
        with path.open("rb") as handle:
            while block := handle.read(1 << 22):
                digest.update(block)
        return digest.hexdigest()

    return remembered(path, "", read_through)
