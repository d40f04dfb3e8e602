"""IMU traces characteristic of each concept: 6 channels (m/s^2, rad/s) at 200 Hz.

The device is held or mounted with a random tilt, so gravity spreads over the three
accelerometer axes differently in every trace; on top come the concept's motion (a dog's
trot, a bird's wing beats, a car's engine vibration and turns, a swinging bell...) and
sensor noise.
"""

from __future__ import annotations

import numpy as np

from engine.demo.concepts import per_concept

RATE = 200.0
GRAVITY = 9.81
Rng = np.random.Generator


def _osc(t: np.ndarray, freq: float, rng: Rng, harmonics: int = 1) -> np.ndarray:
    phase = rng.uniform(0, 2 * np.pi)
    drift = 1 + 0.05 * np.sin(2 * np.pi * t / rng.uniform(3, 8))
    return sum(np.sin(2 * np.pi * freq * k * t * drift + phase * k) / k for k in range(1, harmonics + 1))


def _impulses(t: np.ndarray, times: np.ndarray, width: float = 0.02) -> np.ndarray:
    return sum(np.exp(-(((t - s) / width) ** 2)) for s in times) if len(times) else np.zeros_like(t)


def dog(t, rng):
    f = rng.uniform(2.5, 3.6)
    acc = np.stack([1.5 * _osc(t, f, rng, 2), 1.0 * _osc(t, f / 2, rng), 4.0 * _osc(t, f, rng, 3)])
    gyro = np.stack([0.8 * _osc(t, f, rng), 1.2 * _osc(t, f, rng, 2), 0.4 * _osc(t, f / 2, rng)])
    return acc, gyro


def cat(t, rng):
    f = rng.uniform(0.9, 1.5)
    walking = (np.sin(2 * np.pi * t / rng.uniform(2, 4) + rng.uniform(0, 6)) > -0.3).astype(float)
    acc = np.stack([0.6 * _osc(t, f, rng), 0.4 * _osc(t, f / 2, rng), 1.0 * _osc(t, 2 * f, rng)]) * walking
    jump = _impulses(t, rng.uniform(0, t[-1], rng.integers(0, 2)), 0.08) * 12
    acc[2] += jump
    gyro = np.stack([0.2 * _osc(t, f, rng), 0.3 * _osc(t, f, rng), 0.6 * _osc(t, 0.3, rng)]) * (0.3 + walking)
    return acc, gyro


def bird(t, rng):
    f = rng.uniform(6.0, 11.0)
    flapping = (np.sin(2 * np.pi * t / rng.uniform(1.5, 3) + rng.uniform(0, 6)) > -0.5).astype(float)
    acc = np.stack([1.0 * _osc(t, f, rng), 0.5 * _osc(t, f, rng), 7.0 * _osc(t, f, rng, 2)]) * flapping
    gyro = np.stack([2.0 * _osc(t, f, rng), 1.0 * _osc(t, 0.5, rng), 0.8 * _osc(t, 0.3, rng)])
    return acc, gyro


def car(t, rng):
    throttle = np.interp(t, np.linspace(0, t[-1], 4), rng.uniform(-2.5, 3.0, 4))
    vibration = 0.25 * _osc(t, rng.uniform(25, 40), rng)
    turn = np.interp(t, np.linspace(0, t[-1], 3), rng.uniform(-0.35, 0.35, 3))
    acc = np.stack([throttle + vibration, turn * 8 + 0.2 * vibration, 0.3 * vibration])
    gyro = np.stack([0.02 * _osc(t, 1.0, rng), 0.03 * _osc(t, 1.5, rng), turn])
    return acc, gyro


def train(t, rng):
    period = rng.uniform(0.4, 0.9)
    bumps = _impulses(t, np.arange(rng.uniform(0, period), t[-1], period), 0.015)
    sway = _osc(t, rng.uniform(0.5, 1.0), rng)
    acc = np.stack([0.15 * sway, 0.6 * sway, 3.0 * bumps])
    gyro = np.stack([0.1 * sway, 0.05 * _osc(t, 0.7, rng), 0.02 * _osc(t, 0.1, rng)])
    return acc, gyro


def helicopter(t, rng):
    f = rng.uniform(15.0, 24.0)
    acc = np.stack([0.8 * _osc(t, f, rng), 0.8 * _osc(t, f, rng), 1.5 * _osc(t, f, rng, 2)])
    acc += np.stack([0.6 * _osc(t, 0.2, rng), 0.6 * _osc(t, 0.15, rng), np.zeros_like(t)])
    gyro = np.stack([0.25 * _osc(t, 0.2, rng), 0.25 * _osc(t, 0.25, rng), 0.15 * _osc(t, 0.1, rng)]) + 0.05 * _osc(
        t, f, rng
    )
    return acc, gyro


def rain(t, rng):
    taps = _impulses(t, rng.uniform(0, t[-1], int(rng.uniform(8, 20) * t[-1])), 0.004) * rng.uniform(0.5, 1.5)
    acc = np.stack([0.1 * taps, 0.1 * taps, taps])
    return acc, np.zeros((3, t.size))


def fire(t, rng):
    period = rng.uniform(1.2, 2.5)
    pokes = _impulses(t, np.arange(rng.uniform(0, period), t[-1], period), 0.12)
    acc = np.stack([3.0 * pokes, 0.5 * pokes, -0.8 * pokes])
    gyro = np.stack([0.1 * pokes, 0.6 * pokes, 0.05 * _osc(t, 0.2, rng)])
    return acc, gyro


def ocean(t, rng):
    f = rng.uniform(0.1, 0.3)
    roll, pitch = 0.35 * _osc(t, f, rng), 0.2 * _osc(t, f * 1.3, rng)
    acc = np.stack([GRAVITY * np.sin(pitch), GRAVITY * np.sin(roll), 0.8 * _osc(t, f, rng)])
    gyro = np.stack([np.gradient(roll, t), np.gradient(pitch, t), 0.05 * _osc(t, f / 2, rng)])
    return acc, gyro


def bell(t, rng):
    f = rng.uniform(0.5, 1.0)
    swing = rng.uniform(0.6, 1.2) * _osc(t, f, rng)
    rate = np.gradient(swing, t)
    acc = np.stack([GRAVITY * np.sin(swing), np.zeros_like(t), rate**2 * 0.8])
    gyro = np.stack([np.zeros_like(t), rate, np.zeros_like(t)])
    return acc, gyro


def guitar(t, rng):
    f = rng.uniform(2.0, 4.0)
    strum = _osc(t, f, rng, 3)
    acc = np.stack([2.0 * strum, 3.0 * _osc(t, f, rng), 0.5 * strum])
    gyro = np.stack([0.5 * strum, 0.3 * _osc(t, f, rng), 4.0 * strum])
    return acc, gyro


def crowd(t, rng):
    f = rng.uniform(1.6, 2.2)
    steps = _impulses(t, np.arange(rng.uniform(0, 1 / f), t[-1], 1 / f), 0.03)
    acc = np.stack([0.8 * _osc(t, f, rng), 0.5 * _osc(t, f / 2, rng), 2.0 * _osc(t, f, rng) + 4.0 * steps])
    gyro = np.stack([0.3 * _osc(t, f / 2, rng), 0.2 * _osc(t, f, rng), 0.5 * _osc(t, f / 2, rng)])
    return acc, gyro


MOTIONS = per_concept(globals())


def synthesise(concept: str, rng: Rng) -> tuple[np.ndarray, np.ndarray]:
    """([T] seconds, [T, 6] ax ay az gx gy gz) for 2-6 s of the concept's motion."""
    t = np.arange(int(rng.uniform(2.0, 6.0) * RATE)) / RATE
    acc, gyro = MOTIONS[concept](t, rng)
    tilt_x, tilt_y = rng.normal(0, 0.25, 2)
    gravity = GRAVITY * np.array([np.sin(tilt_y), -np.sin(tilt_x), np.cos(tilt_x) * np.cos(tilt_y)])
    acc = acc + gravity[:, None] + rng.normal(0, 0.05, acc.shape)
    gyro = gyro + rng.normal(0, 0.01, gyro.shape) + rng.normal(0, 0.005, (3, 1))
    return t, np.concatenate([acc, gyro]).T.astype(np.float32)
