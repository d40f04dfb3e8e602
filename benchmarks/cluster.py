"""Indexing on a local Ray against the in-process indexer, on the same generated folder, in one run.

    python benchmarks/cluster.py                        # the demo model, 16 scenes per concept (1,152 files)
    python benchmarks/cluster.py --per-concept 4 --actors 1 2 4

Every configuration indexes the same files into a fresh library, scan included, through the call the
command line makes (``Workspace.index``, in process or with ``backend=RayCluster(...)``); the Ray runs share one
local Ray started with as many CPUs as the most actors plus one for decoding. Then the costs a
cluster adds, measured one by one: a pipeline's start-up (a one-file run, cold and warm), the bytes
a decoded item puts through the object store and the time to move them, the driver's import rate
for shards of ImageBind-huge's 1024-d vectors, and the CPU time to decode full-size files, which
sets how many decode workers a GPU needs.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cluster import embed_shards
from engine.demo.world import generate
from engine.exchange import write
from engine.models.identity import ModelRef
from engine.workspace import RayCluster, Workspace

HUGE_DIM = 1024


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def row(what: str, items: int, seconds: float, baseline: float | None = None) -> None:
    rate = items / seconds
    ratio = f"{rate / baseline:6.2f}x" if baseline else "  1.00x"
    print(f"{what:44s} {items:7d} {seconds:9.1f} {rate:9.1f}   {ratio}", flush=True)


def in_process(world: Path, work: Path, model: str) -> tuple[float, int]:
    workspace = Workspace.open(work / "in-process", create=True, model=model, device="cpu")
    seconds, report = timed(lambda: workspace.index([world]))
    workspace.close()
    return seconds, report.embed.embedded + report.embed.failed


def on_ray(world: Path, work: Path, model: str, actors: int) -> tuple[float, int]:
    workspace = Workspace.open(work / f"ray-{actors}", create=True, model=model, device="cpu")
    seconds, report = timed(lambda: workspace.index([world], backend=RayCluster("local", actors=actors)))
    workspace.close()
    return seconds, report.embed.embedded + report.embed.failed


def start_up(world: Path, work: Path, model: str, actors: int, name: str) -> float:
    """A whole pipeline over one file: planning, decode task, actor start and model load, one shard."""
    one = work / f"one-{name}"
    one.mkdir()
    image = next((world / "images").iterdir())
    (one / image.name).write_bytes(image.read_bytes())
    seconds, _ = timed(lambda: embed_shards([one], model, work / f"one-{name}-shards", "local", actors=actors))
    return seconds


def object_store(world: Path) -> list[tuple[str, float, float]]:
    """(modality, MB per decoded item, ms per item to put a batch in the object store and get it back), for
    ImageBind-huge's model inputs."""
    import pyarrow as pa
    import ray

    from engine.preprocess import load_audio, load_image

    found = []
    for name, folder, load in (("image", "images", load_image), ("audio", "audio", load_audio)):
        arrays = [load(path).numpy() for path in sorted((world / folder).iterdir())[:16]]
        batch = pa.table({"tensor": pa.array([a.tobytes() for a in arrays], pa.binary())})
        ray.get(ray.put(batch))
        seconds, _ = timed(lambda b=batch: [ray.get(ray.put(b)) for _ in range(20)])
        found.append((name, arrays[0].nbytes / 1e6, seconds / 20 / len(arrays) * 1e3))
    return found


def import_rate(work: Path, shards: int = 20, rows: int = 256) -> float:
    """Items per second that a library imports from shards of 1024-d vectors (one transaction per shard)."""
    ref = ModelRef("bench", hashlib.blake2b(b"bench", digest_size=16).hexdigest(), "Bench", HUGE_DIM)
    rng = np.random.default_rng(0)
    files = []
    for number in range(shards):
        vectors = rng.normal(size=(rows, HUGE_DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        paths = [f"/archive/{number:04d}/{n:05d}.jpg" for n in range(rows)]
        columns = {
            "modality": ["vision"] * rows,
            "path": paths,
            "hash": [hashlib.blake2b(p.encode(), digest_size=16).hexdigest() for p in paths],
            "scale": [1.0] * rows,
            "size": [1] * rows,
            "mtime": [0.0] * rows,
        }
        files.append(write(work / f"import-{number:04d}.parquet", columns, vectors, ref))
    workspace = Workspace.open(work / "import-library", create=True)
    seconds, _ = timed(lambda: [workspace.import_embeddings(f) for f in files])
    workspace.close()
    return shards * rows / seconds


def full_size_decode(work: Path) -> list[tuple[str, float]]:
    """(file, ms on one core) for files as cameras and recorders make them, with ImageBind-huge's preprocessing."""
    import torch
    from PIL import Image

    from engine.preprocess import load_audio, load_image

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:3000, 0:4000]
    pixels = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1) + rng.integers(0, 24, (3000, 4000, 3))
    photo = work / "photo.jpg"
    Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(photo, quality=90)
    recording = work / "recording.wav"
    samples = (rng.normal(size=(30 * 44100, 2)) * 3000).astype(np.int16)
    with wave.open(str(recording), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(samples.tobytes())
    found = []
    for name, path, load in (
        (f"12 MP JPEG ({photo.stat().st_size / 1e6:.1f} MB)", photo, load_image),
        (f"30 s stereo WAV, 44.1 kHz ({recording.stat().st_size / 1e6:.1f} MB)", recording, load_audio),
    ):
        load(path)
        seconds, _ = timed(lambda p=path, f=load: [f(p) for _ in range(5)])
        found.append((name, seconds / 5 * 1e3))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="demo", help="a model name or checkpoint (default: the shipped demo model)")
    parser.add_argument("--per-concept", type=int, default=16, help="scenes per concept (x 12 concepts x 6 files)")
    parser.add_argument("--actors", type=int, nargs="+", default=[1, 2], help="CPU actor counts to run")
    args = parser.parse_args()

    import ray
    import torch

    with tempfile.TemporaryDirectory(prefix="bindscope-cluster-bench-") as folder:
        work = Path(folder)
        world = work / "world"
        generate(world, per_concept=args.per_concept, seed=0)
        (world / "manifest.csv").unlink()
        cpus = max(args.actors) + 1
        print(
            f"# {args.model} model, CPU float32, {args.per_concept * 12 * 6:,} files, {torch.get_num_threads()} torch "
            f"threads in process, 1 per Ray actor; Ray {ray.__version__} local, {cpus} logical CPUs"
        )
        print(f"{'what':44s} {'items':>7s} {'seconds':>9s} {'items/s':>9s}   vs in-process")
        seconds, items = in_process(world, work, args.model)
        baseline = items / seconds
        row("in process (Workspace.index)", items, seconds)
        ray.init(num_cpus=cpus, include_dashboard=False)
        cold = start_up(world, work, args.model, 1, "cold")
        warm = start_up(world, work, args.model, 1, "warm")
        for actors in args.actors:
            seconds, items = on_ray(world, work, args.model, actors)
            row(f"Ray, {actors} CPU actor{'s' if actors > 1 else ''} (index --ray)", items, seconds, baseline)
            row(f"  the same, less the warm start-up ({warm:.1f} s)", items, seconds - warm, baseline)
        print("\n# what a cluster adds")
        print(f"pipeline start-up, one file, cold (new worker processes)  {cold:6.1f} s")
        print(f"pipeline start-up, one file, warm                          {warm:6.1f} s")
        for name, megabytes, milliseconds in object_store(world):
            print(f"object store, decoded {name}: {megabytes:.2f} MB, put + get {milliseconds:.2f} ms per item")
        ray.shutdown()
        print(f"shard import into a library, {HUGE_DIM}-d, 256-row shards: {import_rate(work):,.0f} items/s")
        for name, milliseconds in full_size_decode(work):
            print(f"decode on one core with ImageBind-huge's preprocessing, {name}: {milliseconds:.0f} ms")


if __name__ == "__main__":
    main()
