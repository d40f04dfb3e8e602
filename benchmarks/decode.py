"""Exact against reduced JPEG decoding (``bindscope index --reduced-jpeg``) on 12-megapixel photos, end to end.

    python benchmarks/decode.py                                     # demo model: decoding dominates
    python benchmarks/decode.py --model huge.safetensors --photos 24   # ImageBind-huge: the model dominates

Photos: scikit-learn's two sample photographs (real pictures, 640 x 427) and demo-world scenes, enlarged
to 4000 x 3000 (and 3000 x 4000) with Lanczos, sensor-like noise added, saved at JPEG quality 92 as a
camera would. Each run is a fresh ``bindscope index`` process of the same folder (start-up, model load,
scan and database included), the exact decode first, then the reduced one; printed: wall time, files/s,
the model's time and its wait for decoded inputs (the index's own report), and the cosine of each
reduced-decode vector to the exact decode's, from the two libraries' exports.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BINDSCOPE = [sys.executable, "-m", "app.cli"]
SIZE = (4000, 3000)


def sources(count: int) -> list[Image.Image]:
    """Real photographs first, then demo-world scenes, ``count`` in all."""
    from sklearn.datasets import load_sample_image

    from engine.demo.concepts import CONCEPT_NAMES
    from engine.demo.scene import render
    from engine.demo.world import sample_scene

    pictures = [Image.fromarray(load_sample_image(name)) for name in ("china.jpg", "flower.jpg")]
    rng = np.random.default_rng(0)
    while len(pictures) < count:
        concept = CONCEPT_NAMES[len(pictures) % len(CONCEPT_NAMES)]
        pictures.append(Image.fromarray(render(sample_scene(concept, rng, 0), rng)[0]))
    return pictures[:count]


def write_photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for number, picture in enumerate(sources(count)):
        width, height = SIZE if number % 2 == 0 else SIZE[::-1]
        pixels = np.asarray(picture.convert("RGB").resize((width, height), Image.LANCZOS), np.float32)
        pixels += rng.normal(0.0, 4.0, pixels.shape)
        path = folder / f"photo-{number:03d}.jpg"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(path, quality=92)
        paths.append(path)
    return paths


def index(photos: Path, library: Path, model: str, extra: list[str]) -> tuple[float, dict]:
    command = [*BINDSCOPE, "index", str(photos), "--library", str(library), "--model", model]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "--no-moments", "--json", *extra], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return time.perf_counter() - start, json.loads(done.stdout)


def vectors(library: Path) -> dict[str, np.ndarray]:
    out = library.with_suffix(".parquet")
    subprocess.run(
        [*BINDSCOPE, "export", "--library", str(library), "--out", str(out)], cwd=ROOT, check=True, capture_output=True
    )
    table = pq.read_table(out, columns=["path", "embedding"]).to_pydict()
    return {
        path: np.asarray(vector, np.float64) for path, vector in zip(table["path"], table["embedding"], strict=True)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo", help="a model name or a checkpoint (default: the demo model)")
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument(
        "--work", type=Path, default=None, help="where the photos and libraries go (default: a temp dir)"
    )
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bindscope-decode-"))
    photos = write_photos(work / "photos", args.photos)
    megabytes = sum(p.stat().st_size for p in photos) / 1e6
    print(f"# {len(photos)} JPEGs of 12 MP ({megabytes:.0f} MB) in {work / 'photos'}; model {args.model}", flush=True)
    runs = {}
    for name, extra in (("exact", []), ("reduced", ["--reduced-jpeg"])):
        seconds, report = index(work / "photos", work / f"library-{name}", args.model, extra)
        runs[name] = seconds
        print(
            f"{name:8s} bindscope index: {seconds:6.1f} s ({report['embedded'] / seconds:5.2f} files/s); the model ran "
            f"{report['model_seconds']:6.1f} s and waited {report['model_waited_seconds']:6.1f} s for decoded inputs",
            flush=True,
        )
    exact, reduced = vectors(work / "library-exact"), vectors(work / "library-reduced")
    cosines = [float(exact[p] @ reduced[p] / np.linalg.norm(exact[p]) / np.linalg.norm(reduced[p])) for p in exact]
    print(
        f"reduced / exact: {runs['exact'] / runs['reduced']:.2f}x faster; cosine of each vector to the exact decode's: "
        f"min {min(cosines):.6f}, mean {np.mean(cosines):.6f}"
    )


if __name__ == "__main__":
    main()
