"""Sounds characteristic of each concept, synthesised at 16 kHz with real variety.

Barks are harmonic bursts, meows gliding harmonics, chirps fast frequency sweeps, engines
low harmonic drones, trains rail clicks over rumble, helicopters blade slaps, rain and
fire shaped noise with drops or crackles, the ocean slow surges, bells inharmonic decaying
partials, guitars plucked strings (Karplus-Strong) and crowds overlapping babble.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from engine.demo.concepts import per_concept

RATE = 16000
Rng = np.random.Generator


def _t(n: int) -> np.ndarray:
    return np.arange(n) / RATE


def _band(noise: np.ndarray, low: float, high: float, order: int = 2) -> np.ndarray:
    sos = butter(order, [max(low, 20.0), min(high, RATE / 2 - 100)], btype="band", fs=RATE, output="sos")
    return sosfilt(sos, noise)


def _lowpass(signal: np.ndarray, cutoff: float) -> np.ndarray:
    return sosfilt(butter(2, cutoff, btype="low", fs=RATE, output="sos"), signal)


def _envelope(n: int, attack: float, decay: float) -> np.ndarray:
    t = _t(n)
    return np.minimum(t / max(attack, 1e-4), 1.0) * np.exp(-t / max(decay, 1e-4))


def _harmonic(f0: np.ndarray, weights) -> np.ndarray:
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    return sum(w * np.sin(k * phase) for k, w in enumerate(weights, start=1))


def _place(out: np.ndarray, event: np.ndarray, start: int) -> None:
    end = min(len(out), start + len(event))
    if start < end:
        out[start:end] += event[: end - start]


def dog(n: int, rng: Rng) -> np.ndarray:
    out = np.zeros(n)
    f0 = rng.uniform(280, 650)
    start = int(rng.uniform(0, 0.3) * RATE)
    while start < n:
        length = int(rng.uniform(0.1, 0.25) * RATE)
        contour = f0 * (1 + 0.25 * np.sin(np.linspace(0, np.pi, length))) * rng.uniform(0.9, 1.1)
        burst = _harmonic(contour, [1, 0.8, 0.6, 0.4, 0.3, 0.2]) + 0.3 * _band(rng.normal(size=length), 500, 2500)
        _place(out, burst * _envelope(length, 0.01, length / RATE / 3), start)
        start += length + int(rng.uniform(0.12, 0.7) * RATE)
    return out


def cat(n: int, rng: Rng) -> np.ndarray:
    out = np.zeros(n)
    start = int(rng.uniform(0, 0.4) * RATE)
    while start < n:
        length = int(rng.uniform(0.5, 1.2) * RATE)
        s = np.linspace(0, 1, length)
        contour = rng.uniform(450, 800) * (1 + 0.35 * np.sin(np.pi * s) - 0.15 * s)
        meow = _harmonic(contour, [1, 0.5, 0.35, 0.2]) * (0.5 + 0.5 * np.sin(np.pi * s) ** 0.5)
        _place(out, meow * _envelope(length, 0.06, length / RATE), start)
        start += length + int(rng.uniform(0.3, 1.2) * RATE)
    return out


def bird(n: int, rng: Rng) -> np.ndarray:
    out = np.zeros(n)
    base = rng.uniform(2500, 5000)
    start = int(rng.uniform(0, 0.2) * RATE)
    while start < n:
        for _ in range(rng.integers(2, 7)):
            length = int(rng.uniform(0.03, 0.1) * RATE)
            sweep = np.linspace(base * rng.uniform(0.7, 1.0), base * rng.uniform(1.0, 1.5), length)
            _place(out, np.sin(2 * np.pi * np.cumsum(sweep) / RATE) * np.hanning(length), start)
            start += length + int(rng.uniform(0.02, 0.06) * RATE)
        start += int(rng.uniform(0.2, 0.8) * RATE)
    return out


def car(n: int, rng: Rng) -> np.ndarray:
    rpm = np.interp(np.linspace(0, 1, n), [0, rng.uniform(0.3, 0.7), 1], rng.uniform(900, 3500, 3))
    f0 = rpm / 60 * 2
    engine = _harmonic(f0, [1, 0.7, 0.5, 0.35, 0.25, 0.15])
    road = _lowpass(rng.normal(size=n), rng.uniform(300, 700))
    return engine + rng.uniform(0.5, 1.5) * road


def train(n: int, rng: Rng) -> np.ndarray:
    rumble = _lowpass(rng.normal(size=n), 250) * 2.0
    out = rumble
    period = rng.uniform(0.35, 0.9)
    click = _band(rng.normal(size=int(0.03 * RATE)), 800, 4000) * _envelope(int(0.03 * RATE), 0.001, 0.008) * 6
    t = rng.uniform(0, period)
    while t * RATE < n:
        _place(out, click, int(t * RATE))
        _place(out, click * 0.8, int((t + 0.12) * RATE))
        t += period
    if rng.random() < 0.5:  # horn
        length = int(min(rng.uniform(0.8, 1.5), n / RATE) * RATE)
        horn = sum(np.sin(2 * np.pi * f * _t(length)) for f in (311, 370, 466)) * _envelope(length, 0.05, 2.0)
        _place(out, horn, int(rng.uniform(0, max(n - length, 1))))
    return out


def helicopter(n: int, rng: Rng) -> np.ndarray:
    rate = rng.uniform(4.5, 7.5)
    phase = 2 * np.pi * rate * _t(n) + rng.uniform(0, 6)
    slaps = np.maximum(np.sin(phase), 0) ** 12
    body = _band(rng.normal(size=n), 60, 900) * (0.3 + 2.5 * slaps)
    whine = 0.08 * np.sin(2 * np.pi * rng.uniform(3000, 5500) * _t(n))
    return body + whine


def rain(n: int, rng: Rng) -> np.ndarray:
    out = _band(rng.normal(size=n), 400, 7000) * 0.8
    drops = rng.random(n) < rng.uniform(0.001, 0.004)
    return out + _band(drops * rng.normal(0, 6, n), 2000, 7500)


def fire(n: int, rng: Rng) -> np.ndarray:
    out = _lowpass(rng.normal(size=n), 180) * 1.5 + _band(rng.normal(size=n), 1000, 5000) * 0.15
    t = 0.0
    while t * RATE < n:
        length = int(rng.uniform(0.002, 0.012) * RATE)
        pop = rng.normal(size=length) * np.exp(-np.arange(length) / (length / 4 + 1)) * rng.uniform(2, 8)
        _place(out, pop, int(t * RATE))
        t += rng.exponential(1 / rng.uniform(8, 25))
    return out


def ocean(n: int, rng: Rng) -> np.ndarray:
    period = rng.uniform(2.5, 6.0)
    surge = 0.25 + np.maximum(np.sin(2 * np.pi * _t(n) / period + rng.uniform(0, 6)), 0) ** 2
    return _lowpass(rng.normal(size=n), rng.uniform(600, 1400)) * surge * 2


def bell(n: int, rng: Rng) -> np.ndarray:
    out = np.zeros(n)
    f0 = rng.uniform(220, 700)
    ratios, decays = (0.5, 1.0, 1.183, 1.506, 2.0, 2.514, 2.662), (3.0, 2.2, 1.6, 1.2, 1.0, 0.7, 0.6)
    start = int(rng.uniform(0, 0.2) * RATE)
    for _ in range(rng.integers(1, 4)):
        length = n - start
        if length <= 0:
            break
        t = _t(length)
        strike = sum(
            np.exp(-t / d) * np.sin(2 * np.pi * f0 * r * t) / (1 + i * 0.3)
            for i, (r, d) in enumerate(zip(ratios, decays, strict=True))
        )
        _place(out, strike, start)
        start += int(rng.uniform(0.8, 2.0) * RATE)
    return out


def guitar(n: int, rng: Rng) -> np.ndarray:
    out = np.zeros(n)
    root = rng.choice([82.4, 110.0, 146.8, 196.0])
    chord = [root * r for r in (1, 1.26, 1.5, 2.0)] if rng.random() < 0.6 else [root * 2 ** (rng.integers(0, 12) / 12)]
    t = rng.uniform(0, 0.2)
    while t * RATE < n:
        for i, f in enumerate(chord):
            _place(out, _pluck(f, n, rng), int((t + i * 0.015) * RATE))
        t += rng.uniform(0.35, 0.9)
    return out


def _pluck(freq: float, n: int, rng: Rng) -> np.ndarray:
    """Karplus-Strong: a noise burst through a damped feedback delay of one period."""
    delay = max(2, int(RATE / freq))
    excitation = np.zeros(n)
    excitation[:delay] = rng.uniform(-1, 1, delay)
    a = np.zeros(delay + 2)
    a[0], a[delay], a[delay + 1] = 1.0, -0.497, -0.497
    return lfilter([1.0], a, excitation)


def crowd(n: int, rng: Rng) -> np.ndarray:
    out = np.zeros(n)
    for _ in range(rng.integers(6, 14)):
        formant = rng.uniform(300, 1200)
        voice = _band(rng.normal(size=n), formant, formant * rng.uniform(1.6, 2.5))
        syllables = np.maximum(np.sin(2 * np.pi * rng.uniform(3, 6) * _t(n) + rng.uniform(0, 6)), 0)
        out += voice * syllables * rng.uniform(0.3, 1.0)
    return out


SYNTHS = per_concept(globals())


def synthesise(concept: str, rng: Rng) -> np.ndarray:
    """2-6 s of the concept's sound, normalised, over a little background noise; float32 at 16 kHz."""
    n = int(rng.uniform(2.0, 6.0) * RATE)
    signal = SYNTHS[concept](n, rng)
    signal = signal / (np.abs(signal).max() + 1e-9) * rng.uniform(0.3, 0.9)
    signal += rng.normal(0, rng.uniform(0.002, 0.01), n)
    return np.clip(signal, -1, 1).astype(np.float32)
