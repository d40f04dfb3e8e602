"""Moments in long recordings: segment throughput, the cost of an hour of audio, and localisation accuracy.

    python benchmarks/moments.py                                  # the figures in the README
    python benchmarks/moments.py --recordings 5 --minutes 2 --hour-minutes 10   # a quick look

On this CPU with the demo model, for audio, video and IMU recordings built from the demo world:

* segments/s of the product path (``Encoder.encode_segments``: each file decoded once, a
  batch ahead of the model) beside the baseline of the manual way (the file cut into window
  files beforehand, untimed, then the whole-file path ``Encoder.encode_files`` on them);
* an estimate for ImageBind-huge from the per-window cost: the huge spec's decoding of
  the same windows, measured, plus the huge trunk's forward per window, measured with one
  and with two blocks (random weights, other modalities shrunk) and extrapolated to its depth;
* the time (and peak memory) to embed one hour of 16 kHz audio, streamed from disk;
* localisation: recordings of demo sounds with a bell inserted at a known time; the segments
  are ranked by the text "a bell" and the top one must overlap the bell (the issue asks for
  95%); chance is the share of segments that overlap it.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.demo import motion, sound
from engine.demo.concepts import CONCEPT_NAMES
from engine.demo.scene import render
from engine.demo.world import sample_scene
from engine.encoder import Encoder
from engine.modality import Modality
from engine.models.config import ImageBindConfig
from engine.models.factory import load_model
from engine.models.imagebind import ImageBindModel
from engine.models.zoo import resolve
from engine.preprocess.segments import open_segments
from engine.preprocess.windows import window_plan

EVENT = "bell"
QUERY = "a bell"
OTHERS = tuple(name for name in CONCEPT_NAMES if name != EVENT)
VIDEO_FPS = 10.0
BASELINE_WINDOWS = 8


def sound_recording(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, float, float]:
    """Demo sounds of every concept but the bell back to back, then a bell written over them at a random time."""
    total = int(seconds * sound.RATE)
    pieces, length = [], 0
    while length < total:
        piece = sound.synthesise(OTHERS[rng.integers(len(OTHERS))], rng)
        gap = rng.normal(0, 0.003, int(rng.uniform(0, 0.5) * sound.RATE)).astype(np.float32)
        pieces += [piece, gap]
        length += len(piece) + len(gap)
    samples = np.concatenate(pieces)[:total]
    bell = sound.synthesise(EVENT, rng)
    start = int(rng.integers(0, total - len(bell)))
    samples[start : start + len(bell)] = bell
    return samples, start / sound.RATE, (start + len(bell)) / sound.RATE


def video_frames(rng: np.random.Generator, seconds: float) -> list[np.ndarray]:
    """Demo scenes of random concepts, each held for 3-8 s, as RGB frames at ``VIDEO_FPS``."""
    frames: list[np.ndarray] = []
    while len(frames) < seconds * VIDEO_FPS:
        scene = sample_scene(CONCEPT_NAMES[rng.integers(len(CONCEPT_NAMES))], rng, 0)
        rgb = render(scene, rng)[0]
        frames += [rgb] * int(rng.uniform(3, 8) * VIDEO_FPS)
    return frames[: int(seconds * VIDEO_FPS)]


def imu_recording(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Demo motions of random concepts back to back: ([T] seconds, [T, 6])."""
    times, values, offset = [], [], 0.0
    while offset < seconds:
        t, imu = motion.synthesise(CONCEPT_NAMES[rng.integers(len(CONCEPT_NAMES))], rng)
        times.append(t + offset)
        values.append(imu)
        offset += len(t) / motion.RATE
    return np.concatenate(times), np.concatenate(values)


def write_video(path: Path, frames: list[np.ndarray]) -> None:
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), VIDEO_FPS, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def make_recordings(folder: Path, rng: np.random.Generator, minutes: float) -> dict[Modality, tuple[Path, list[Path]]]:
    """One long file per modality and, for the baseline, its first windows cut into files."""
    spec = resolve("demo").spec
    seconds = minutes * 60
    samples = sound_recording(rng, seconds)[0]
    soundfile.write(folder / "long.wav", samples, sound.RATE)
    frames = video_frames(rng, seconds)
    write_video(folder / "long.avi", frames)
    t, imu = imu_recording(rng, seconds * 6)  # IMU windows are cheap: a longer log
    np.savez(folder / "long.npz", imu=imu, timestamps=t)
    cuts: dict[Modality, list[Path]] = {m: [] for m in (Modality.AUDIO, Modality.VISION, Modality.IMU)}
    for modality in cuts:
        window, hop = window_plan(modality, spec).window_seconds, window_plan(modality, spec).hop_seconds
        for number in range(BASELINE_WINDOWS):
            start, end = number * hop, number * hop + window
            path = (
                folder
                / f"cut{number}.{ {Modality.AUDIO: 'wav', Modality.VISION: 'avi', Modality.IMU: 'npz'}[modality] }"
            )
            if modality is Modality.AUDIO:
                soundfile.write(path, samples[int(start * sound.RATE) : int(end * sound.RATE)], sound.RATE)
            elif modality is Modality.VISION:
                write_video(path, frames[int(start * VIDEO_FPS) : int(end * VIDEO_FPS)])
            else:
                rows = (t >= start) & (t < end)
                np.savez(path, imu=imu[rows], timestamps=t[rows])
            cuts[modality].append(path)
    long = {Modality.AUDIO: "long.wav", Modality.VISION: "long.avi", Modality.IMU: "long.npz"}
    return {m: (folder / long[m], cuts[m]) for m in cuts}


def throughput(encoder: Encoder, recordings) -> dict[Modality, tuple[float, float, int]]:
    """Per modality: (product segments/s, baseline segments/s, segments in the long file)."""
    rates = {}
    for modality, (long, cuts) in recordings.items():
        encoder.encode_files(modality, cuts[:1])  # warm-up: imports, first model call
        started = time.perf_counter()
        result = encoder.encode_segments(modality, long)
        product = len(result.segments) / (time.perf_counter() - started)
        started = time.perf_counter()
        encoder.encode_files(modality, cuts)
        baseline = len(cuts) / (time.perf_counter() - started)
        rates[modality] = (product, baseline, len(result.segments))
    return rates


def huge_seconds_per_window(recordings, limit: int = 16) -> dict[Modality, tuple[float, float]]:
    """Per modality: (decoding, model) seconds per window for ImageBind-huge on this CPU."""
    huge = resolve("imagebind-huge")
    estimates = {}
    for modality, (long, _) in recordings.items():
        started, inputs = time.perf_counter(), []
        for number, window in enumerate(open_segments(modality, long, huge.spec).inputs):
            inputs.append(window.make())
            if number + 1 == limit:
                break
        decode = (time.perf_counter() - started) / len(inputs)
        batch = torch.stack(inputs[:1])
        one, two = (_forward_seconds(huge.config, modality, blocks, batch) for blocks in (1, 2))
        depth = getattr(huge.config, f"{modality.value}_num_blocks")
        estimates[modality] = (decode, (one + (depth - 1) * max(two - one, 0.0)) / len(batch))
    return estimates


def _forward_seconds(
    config: ImageBindConfig, modality: Modality, blocks: int, batch: torch.Tensor, repeats: int = 3
) -> float:
    """One forward of ``batch`` through the huge ``modality`` encoder cut to ``blocks`` blocks (random weights)."""
    shrunk = {f"{m.value}_num_blocks": 1 for m in Modality}
    torch.manual_seed(0)
    model = ImageBindModel(dataclasses.replace(config, **{**shrunk, f"{modality.value}_num_blocks": blocks})).eval()
    times = []
    with torch.inference_mode():
        model.encode(modality, batch)  # warm-up
        for _ in range(repeats):
            started = time.perf_counter()
            model.encode(modality, batch)
            times.append(time.perf_counter() - started)
    return min(times)  # the least disturbed by other processes on a shared machine


def hour_of_audio(encoder: Encoder, folder: Path, rng: np.random.Generator, minutes: float) -> tuple[float, int, int]:
    """(seconds, segments, peak RSS growth in MB) to embed ``minutes`` of 16 kHz audio, written to disk in pieces."""
    path = folder / "hour.wav"
    with soundfile.SoundFile(path, "w", samplerate=sound.RATE, channels=1) as out:
        piece = sound_recording(rng, 300)[0]
        for _ in range(int(np.ceil(minutes / 5))):
            out.write(piece)
    encoder.encode_files(Modality.AUDIO, [path.with_name("cut0.wav")])  # warm-up: imports, first model call
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = encoder.encode_segments(Modality.AUDIO, path)
    seconds = time.perf_counter() - started
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
    return seconds, len(result.segments), grown


def localisation(encoder: Encoder, folder: Path, rng: np.random.Generator, count: int, minutes: float):
    """(hits, chance) over ``count`` recordings: the top segment for QUERY overlaps the inserted bell."""
    query = encoder.encode_texts([QUERY])[0].embedding
    hits, chance = 0, []
    for number in range(count):
        samples, start, end = sound_recording(rng, minutes * 60)
        path = folder / f"recording{number}.wav"
        soundfile.write(path, samples, sound.RATE)
        segments = encoder.encode_segments(Modality.AUDIO, path).segments
        scores = np.stack([s.vector for s in segments]) @ query
        overlaps = [s.start < end and s.end > start for s in segments]
        top = int(np.argmax(scores))
        hits += overlaps[top]
        chance.append(np.mean(overlaps))
        print(
            f"  recording {number + 1:>2}: bell {start:6.1f}-{end:6.1f} s, top segment "
            f"{segments[top].start:6.1f}-{segments[top].end:6.1f} s {'hit' if overlaps[top] else 'MISS'}",
            flush=True,
        )
    return hits, float(np.mean(chance))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=20, help="synthetic recordings for localisation")
    parser.add_argument("--minutes", type=float, default=5.0, help="length of each recording")
    parser.add_argument("--hour-minutes", type=float, default=60.0, help="length of the long audio file timed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    model = load_model("demo", device="cpu")
    encoder = Encoder(model)
    print(f"{model.describe()}, torch threads {torch.get_num_threads()}, encoder batch {encoder.batch_size}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        recordings = make_recordings(folder, rng, args.minutes)
        seconds, count, grown = hour_of_audio(encoder, folder, rng, args.hour_minutes)
        whole = args.hour_minutes * 60 * sound.RATE * 4 / 2**20
        print(
            f"\n{args.hour_minutes:g} min of 16 kHz audio: {count} segments in {seconds:.1f} s "
            f"({count / seconds:.1f}/s); peak memory grew by {grown} MB while embedding it "
            f"(the samples alone, as float32, are {whole:.0f} MB)"
        )
        print(f"\nsegments/s, demo model: {args.minutes:g}-minute audio and video, {args.minutes * 6:g}-minute IMU")
        print(f"{'modality':<9} {'window':>7} {'segments':>9} {'product':>9} {'cut files':>10} {'ratio':>6}")
        for modality, (product, baseline, count) in throughput(encoder, recordings).items():
            window = window_plan(modality, model.spec)
            print(
                f"{modality.value:<9} {window.window_seconds:>6g}s {count:>9} {product:>9.1f} {baseline:>10.1f} "
                f"{product / baseline:>5.1f}x"
            )
        print(f"\nlocalisation: {args.recordings} recordings of {args.minutes:g} min, query {QUERY!r}")
        hits, chance = localisation(encoder, folder, rng, args.recordings, args.minutes)
        rate = f"{hits}/{args.recordings} = {hits / args.recordings:.0%}"
        print(f"top segment overlaps the bell in {rate} (chance {chance:.1%})")
        print("\nImageBind-huge estimate from the per-window cost (random weights, blocks extrapolated)")
        print(f"{'modality':<9} {'decode s':>9} {'model s':>8} {'segments/s':>11} {'1 h of it':>10}")
        for modality, (decode, forward) in huge_seconds_per_window(recordings).items():
            plan = window_plan(modality, resolve("imagebind-huge").spec)
            hour = (3600 - plan.window_seconds) / plan.hop_seconds + 1
            print(
                f"{modality.value:<9} {decode:>9.3f} {forward:>8.3f} {1 / (decode + forward):>11.2f} "
                f"{hour * (decode + forward) / 60:>8.1f} m"
            )


if __name__ == "__main__":
    main()
