"""Named models: a name resolves to a config, its preprocessing spec and a weight source.

Like open_clip's pretrained registry: ``imagebind-huge`` is the released checkpoint,
downloaded on request into the user cache; a path to a ``.pth``/``.safetensors`` file works
too (safetensors written by BindScope carry their config and spec in the file's metadata; a
``<name>.json`` beside any checkpoint can give them; otherwise the huge config is assumed).
A description that cannot be read or used is a ``WeightsError`` naming its file and the reason.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from engine.models.config import ImageBindConfig
from engine.models.errors import ModelUnavailable, WeightsError
from engine.models.safetensors_header import read_metadata
from engine.preprocess.errors import PreprocessError
from engine.preprocess.files import check_file
from engine.preprocess.spec import PreprocessSpec
from engine.resources import resource

CONFIG_METADATA_KEY = "bindscope.config"
SPEC_METADATA_KEY = "bindscope.spec"
MAX_SIDECAR_BYTES = 1024**2  # a description is a few kB; a bigger file is not one


@dataclass(frozen=True)
class WeightSource:
    filename: str
    url: str | None = None
    min_bytes: int | None = None  # a smaller file is truncated
    bundled: Path | None = None  # shipped inside the application
    sha256: str | None = None  # of the whole file, when published: a download is verified against it
    licence: str | None = None  # the weights' terms: said before a download and wherever models are listed


@dataclass(frozen=True)
class ModelEntry:
    name: str
    title: str
    config: ImageBindConfig
    spec: PreprocessSpec
    weights: WeightSource
    summary: str

    @property
    def weights_path(self) -> Path:
        return self.weights.bundled or cache_dir() / self.weights.filename

    @property
    def available(self) -> bool:
        return self.weights_path.is_file()

    @property
    def downloadable(self) -> bool:
        return self.weights.url is not None and self.weights.bundled is None

    @property
    def missing(self) -> str:
        """Why this model cannot run here and what to do: said when it is asked for by name and not ``available``."""
        if self.downloadable:
            return f"{self.title} is not downloaded: `bindscope models download {self.name}` ({self.weights.licence})"
        if self.name in _REGISTRY:
            return f"the {self.title} weights are missing from this installation ({self.weights_path}): reinstall BindScope"
        return f"{self.weights_path}: no such checkpoint"


def spec_for(config: ImageBindConfig, **overrides) -> PreprocessSpec:
    """The preprocessing a config implies: its sizes, ImageBind's constants for the rest."""
    return PreprocessSpec(
        image_size=config.image_size,
        video_frames=config.video_frames,
        text_context_length=config.text_context_length,
        audio_num_mel_bins=config.audio_num_mel_bins,
        audio_target_len=config.audio_target_len,
        imu_length=config.imu_length,
        **overrides,
    )


def imagebind_huge_config() -> ImageBindConfig:
    """The reference's ``imagebind_huge``: ViT-H vision, 1024-d text, 1024-d shared space."""
    return ImageBindConfig(
        vision_embed_dim=1280,
        vision_num_blocks=32,
        vision_num_heads=16,
        text_embed_dim=1024,
        text_num_blocks=24,
        text_num_heads=16,
        out_embed_dim=1024,
        audio_drop_path=0.1,
        imu_drop_path=0.7,
    )


IMAGEBIND_LICENCE = (
    "Meta's ImageBind code and weights are licensed CC-BY-NC 4.0: non-commercial use only, with attribution "
    "(https://creativecommons.org/licenses/by-nc/4.0/)"
)

IMAGEBIND_HUGE = ModelEntry(
    name="imagebind-huge",
    title="ImageBind-huge",
    config=imagebind_huge_config(),
    spec=spec_for(imagebind_huge_config()),
    weights=WeightSource(
        filename="imagebind_huge.pth",
        url="https://dl.fbaipublicfiles.com/imagebind/imagebind_huge.pth",
        min_bytes=1_200_786_990 * 4,  # its float32 parameters alone
        sha256=None,  # the authors publish none, and it could not be computed where this was written
        licence=IMAGEBIND_LICENCE,
    ),
    summary="The released ImageBind (Girdhar et al., CVPR 2023): 1.2 B parameters, 4.5 GB download.",
)

# The demo model: the same network, small; made by `bindscope train-demo` (engine/demo/recipe.py).
DEMO_CONFIG = ImageBindConfig(
    out_embed_dim=128,
    image_size=96,
    kernel_size=(2, 12, 12),
    vision_embed_dim=128,
    vision_num_blocks=4,
    vision_num_heads=4,
    text_embed_dim=96,
    text_num_blocks=3,
    text_num_heads=4,
    text_context_length=32,
    audio_embed_dim=96,
    audio_num_blocks=3,
    audio_num_heads=4,
    audio_num_mel_bins=64,
    audio_kernel_size=16,
    audio_stride=16,
    audio_drop_path=0.1,
    depth_embed_dim=96,
    depth_kernel_size=12,
    depth_num_blocks=3,
    depth_num_heads=4,
    thermal_embed_dim=96,
    thermal_kernel_size=12,
    thermal_num_blocks=3,
    thermal_num_heads=4,
    imu_embed_dim=96,
    imu_kernel_size=20,
    imu_length=1200,
    imu_num_blocks=3,
    imu_num_heads=4,
    imu_drop_path=0.1,
)
DEMO_SPEC = spec_for(DEMO_CONFIG)

DEMO = ModelEntry(
    name="demo",
    title="BindScope demo",
    config=DEMO_CONFIG,
    spec=DEMO_SPEC,
    weights=WeightSource(
        filename="demo.safetensors",
        bundled=resource("models", "demo.safetensors"),
        licence="MIT, like BindScope: trained by BindScope on its synthetic demo world",
    ),
    summary="A small ImageBind trained on the synthetic demo world (12 concepts); ships with BindScope, no download.",
)

_REGISTRY: dict[str, ModelEntry] = {IMAGEBIND_HUGE.name: IMAGEBIND_HUGE, DEMO.name: DEMO}


def cache_dir() -> Path:
    """Where downloaded weights live: ``$BINDSCOPE_CACHE_DIR`` or the platform's user cache."""
    override = os.environ.get("BINDSCOPE_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("BindScope", appauthor=False)) / "models"


def entries() -> list[ModelEntry]:
    return list(_REGISTRY.values())


def resolve(name_or_path: str | Path) -> ModelEntry:
    """A registered name, or a checkpoint path -> its entry."""
    key = str(name_or_path)
    if key in _REGISTRY:
        return _REGISTRY[key]
    path = Path(key).expanduser()
    if path.suffix in (".pth", ".pt", ".safetensors"):
        return _local_entry(path)
    known = ", ".join(sorted(_REGISTRY))
    raise ModelUnavailable(f"unknown model {key!r}: use one of {known}, or a path to a .pth/.safetensors checkpoint")


def default_entry() -> ModelEntry | None:
    """For a library whose model nobody chose: ImageBind-huge if downloaded, else the bundled demo model.
    A model asked for by name never falls back to another (``resolve`` it and say ``missing`` instead)."""
    for entry in (_REGISTRY.get("imagebind-huge"), _REGISTRY.get("demo")):
        if entry is not None and entry.available:
            return entry
    return None


def _local_entry(path: Path) -> ModelEntry:
    path = path.resolve()
    config, spec = _described_config(path)
    return ModelEntry(
        name=str(path),
        title=path.name,
        config=config,
        spec=spec,
        weights=WeightSource(filename=path.name, bundled=path),
        summary=f"Local checkpoint {path}",
    )


def _described_config(path: Path) -> tuple[ImageBindConfig, PreprocessSpec]:
    """Config and spec from safetensors metadata, else a JSON beside the file, else ImageBind-huge's."""
    source, described = path, {}
    if path.suffix == ".safetensors" and path.is_file():
        described = _metadata_description(path)
    sidecar = path.with_suffix(".json")
    if not described and sidecar.exists():
        source, described = sidecar, _sidecar_description(sidecar)
    if "config" not in described:
        return IMAGEBIND_HUGE.config, IMAGEBIND_HUGE.spec
    try:
        config = ImageBindConfig.from_dict(described["config"])
        spec = PreprocessSpec.from_dict(described["spec"]) if "spec" in described else spec_for(config)
    except (TypeError, ValueError) as error:
        raise WeightsError(source, f"the model description is not usable ({error})") from None
    return config, spec


def _metadata_description(path: Path) -> dict:
    metadata = read_metadata(path)
    described = {}
    for key, name in ((CONFIG_METADATA_KEY, "config"), (SPEC_METADATA_KEY, "spec")):
        if key in metadata:
            try:
                described[name] = json.loads(metadata[key])
            except ValueError as error:
                raise WeightsError(path, f"the metadata {key!r} is not valid JSON ({error})") from None
    return described


def _sidecar_description(sidecar: Path) -> dict:
    try:  # the check every loader starts with: a FIFO or device is refused, never opened (it would block)
        check_file(sidecar, max_bytes=MAX_SIDECAR_BYTES)
    except PreprocessError as error:
        raise WeightsError(sidecar, f"cannot read the model description ({error.reason})") from None
    try:
        described = json.loads(sidecar.read_text(encoding="utf-8"))
    except OSError as error:
        raise WeightsError(sidecar, f"cannot read the model description ({error.strerror or error})") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError alike
        raise WeightsError(sidecar, f"the model description is not valid JSON ({error})") from None
    if not isinstance(described, dict):
        raise WeightsError(sidecar, f"the model description must be a JSON object, got {type(described).__name__}")
    return described


def metadata_for(config: ImageBindConfig, spec: PreprocessSpec) -> dict[str, str]:
    """Safetensors metadata that makes a checkpoint self-describing."""
    return {CONFIG_METADATA_KEY: json.dumps(config.to_dict()), SPEC_METADATA_KEY: json.dumps(spec.to_dict())}
