"""The demo world: deterministic scenes, each observed in every modality, written as real files.

``generate(out, per_concept)`` writes a browsable gallery in the formats the loaders accept
(JPEG/PNG photos, 16-bit millimetre depth PNGs, 8-bit thermal PNGs, 16 kHz WAV/FLAC audio,
IMU CSVs with a timestamp column, caption .txt files) and a ``manifest.csv`` pairing the
observations of each scene. The same seed gives the same files, byte for byte.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image, ImageFilter

from engine.demo import motion, sound
from engine.demo.concepts import BY_NAME, CONCEPTS, caption
from engine.demo.objects import DRAWERS
from engine.demo.scene import HEIGHT, Scene, render

MODALITY_FOLDERS = {
    "vision": "images",
    "depth": "depth",
    "thermal": "thermal",
    "audio": "audio",
    "imu": "imu",
    "text": "text",
}
MANIFEST_COLUMNS = ("scene", "concept", "split", *MODALITY_FOLDERS)

_SKIES = {
    "day": ((110, 160, 225), 1.0, (18, 30)),
    "dusk": ((215, 140, 105), 0.75, (10, 20)),
    "night": ((22, 28, 58), 0.4, (0, 12)),
    "cloudy": ((150, 155, 165), 0.85, (8, 16)),
}
_GROUNDS = {
    "grass": (70, 125, 50),
    "asphalt": (88, 88, 94),
    "sand": (195, 175, 125),
    "dirt": (125, 98, 70),
    "snow": (228, 232, 238),
}
_SEAS = ((30, 80, 135), (20, 110, 125), (40, 70, 100))
_INDOORS = ("cat", "guitar", "bell")
# Where the ground (or the floor at the wall's foot) meets the sky (or the wall), as a fraction of the height.
_HORIZONS = {
    "ground": (0.28, 0.5),
    "sea": (0.28, 0.5),
    "wall": (0.6, 0.8),
    ("cat", "wall"): (0.3, 0.42),  # a low floor line, so a cat can sit near the camera
}
_WALLS = ((150, 72, 55), (130, 130, 126), (212, 200, 180), (45, 38, 50))


@dataclass(frozen=True)
class Observation:
    scene: str
    concept: str
    split: str
    files: dict[str, str]  # modality key -> path relative to the world folder


def scene_rng(seed: int, concept_index: int, number: int, stream: int) -> np.random.Generator:
    """Independent, reproducible randomness per scene and per modality stream."""
    return np.random.default_rng([seed, concept_index, number, stream])


def sample_scene(concept: str, rng: np.random.Generator, seed: int) -> Scene:
    info = BY_NAME[concept]
    times = {"rain": ("cloudy", "night"), "fire": ("dusk", "night", "night")}.get(concept, tuple(_SKIES))
    time_of_day = times[rng.integers(len(times))]
    sky, light, (cold, warm) = _SKIES[time_of_day]
    if concept == "rain":
        sky = (95, 100, 112) if time_of_day == "cloudy" else sky
    indoors = concept in _INDOORS and rng.random() < 0.7  # cats at home, guitars on stage, bells in towers
    setting = "sea" if concept == "ocean" else "wall" if indoors else "ground"
    if setting == "sea":
        ground = _SEAS[rng.integers(len(_SEAS))]
    elif setting == "wall":
        ground = tuple(int(c * 0.8) for c in _GROUNDS["asphalt"]) if rng.random() < 0.5 else _GROUNDS["dirt"]
        sky = _WALLS[rng.integers(len(_WALLS))]
    else:
        names = (
            ("asphalt",) if concept in ("car", "rain") else ("sand", "dirt") if concept == "fire" else tuple(_GROUNDS)
        )
        ground = _GROUNDS[names[rng.integers(len(names))]]
    low, high = _HORIZONS.get((concept, setting), _HORIZONS[setting])
    horizon = float(rng.uniform(HEIGHT * low, HEIGHT * high))
    jitter = rng.normal(0, 10, 6)
    scene = Scene(
        concept=concept,
        seed=seed,
        horizon=horizon,
        time_of_day=time_of_day,
        setting=setting,
        ground_rgb=tuple(float(np.clip(c + j, 0, 255)) for c, j in zip(ground, jitter[:3], strict=True)),
        sky_rgb=tuple(float(np.clip(c + j, 0, 255)) for c, j in zip(sky, jitter[3:], strict=True)),
        ambient=float(rng.uniform(cold, warm)) if setting != "wall" else float(rng.uniform(16, 23)),
        light=0.9 if setting == "wall" else light,  # indoors the lights are on
    )
    scene.parts = DRAWERS[info.name](scene, rng)
    return scene


def generate(
    out: str | Path, per_concept: int = 8, seed: int = 0, first: int = 0, split: str = "gallery"
) -> list[Observation]:
    """Write scenes ``first .. first + per_concept - 1`` of every concept under ``out``; returns the manifest rows."""
    out = Path(out)
    for folder in MODALITY_FOLDERS.values():
        (out / folder).mkdir(parents=True, exist_ok=True)
    observations = []
    for concept_index, concept in enumerate(CONCEPTS):
        for number in range(first, first + per_concept):
            observations.append(write_scene(out, concept.name, concept_index, number, seed, split))
    write_manifest(out / "manifest.csv", observations)
    return observations


def write_scene(out: Path, concept: str, concept_index: int, number: int, seed: int, split: str) -> Observation:
    name = f"{concept}_{number:04d}"
    geometry = scene_rng(seed, concept_index, number, 0)
    scene = sample_scene(concept, geometry, seed)
    rgb, depth, temperature = render(scene, geometry)
    files = {}

    photo = Image.fromarray(rgb)
    if geometry.random() < 0.3:
        photo = photo.filter(ImageFilter.GaussianBlur(geometry.uniform(0.3, 0.9)))
    if geometry.random() < 0.5:
        files["vision"] = f"images/{name}.jpg"
        photo.save(out / files["vision"], quality=int(geometry.integers(80, 96)))
    else:
        files["vision"] = f"images/{name}.png"
        photo.save(out / files["vision"])

    noisy = depth * (1 + geometry.normal(0, 0.004, depth.shape))
    files["depth"] = f"depth/{name}.png"
    Image.fromarray(np.clip(np.round(noisy * 1000), 1, 65535).astype(np.uint16)).save(out / files["depth"])

    counts = (temperature + 10.0) / 70.0 * 255.0 + geometry.normal(0, 1.5, temperature.shape)
    thermal = Image.fromarray(np.clip(counts, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    files["thermal"] = f"thermal/{name}.png"
    thermal.save(out / files["thermal"])

    waveform = sound.synthesise(concept, scene_rng(seed, concept_index, number, 1))
    files["audio"] = f"audio/{name}.wav" if number % 4 else f"audio/{name}.flac"
    soundfile.write(str(out / files["audio"]), waveform, sound.RATE)

    t, imu = motion.synthesise(concept, scene_rng(seed, concept_index, number, 2))
    files["imu"] = f"imu/{name}.csv"
    with (out / files["imu"]).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "ax", "ay", "az", "gx", "gy", "gz"])
        writer.writerows([[f"{t[i]:.4f}", *(f"{v:.5f}" for v in imu[i])] for i in range(len(t))])

    files["text"] = f"text/{name}.txt"
    (out / files["text"]).write_text(
        caption(BY_NAME[concept], scene_rng(seed, concept_index, number, 3)) + "\n", encoding="utf-8"
    )
    return Observation(name, concept, split, files)


def write_manifest(path: Path, observations: list[Observation]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MANIFEST_COLUMNS)
        for o in observations:
            writer.writerow([o.scene, o.concept, o.split, *(o.files[m] for m in MODALITY_FOLDERS)])


def read_manifest(path: str | Path) -> list[Observation]:
    path = Path(path)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [Observation(r["scene"], r["concept"], r["split"], {m: r[m] for m in MODALITY_FOLDERS}) for r in rows]
