"""One scene of the demo world, rendered consistently as an RGB photo, metric depth and temperature.

A scene is a concept placed in a randomised setting (sky, ground or sea or wall, time of day,
horizon, distance, position, mirror, tilt, colours). Every object is a list of parts drawn in
metres around the object's base and projected through one pinhole camera, so the photo, the
depth map and the thermal image share the same geometry: a part's colour goes to the photo,
its distance to the depth map and its temperature to the thermal image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 160, 120
FOCAL = 300.0  # pixels: a mild telephoto, so subjects fill a good part of the frame
CAMERA_HEIGHT = 0.7  # metres: eye level of a person crouching, of a dog standing
FAR = 40.0  # metres: sky and far ground


@dataclass
class Part:
    """A filled polygon (``width`` None) or a polyline of ``width`` metres, in pixel coordinates once placed."""

    points: np.ndarray
    rgb: tuple[float, float, float]
    depth: float
    temperature: float
    width: float | None = None
    solid: bool = True  # flames and glows have colour and heat but no surface for a depth sensor


@dataclass
class Scene:
    concept: str
    seed: int
    horizon: float
    time_of_day: str
    setting: str  # "ground", "sea" or "wall"
    ground_rgb: tuple[float, float, float]
    sky_rgb: tuple[float, float, float]
    ambient: float  # degrees Celsius
    light: float = 1.0  # daylight on solid parts; flames and glows shine at full strength
    parts: list[Part] = field(default_factory=list)


def ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 20) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)], axis=1)


def rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


def poly(*points: tuple[float, float]) -> np.ndarray:
    return np.array(points, dtype=float)


class Placement:
    """Local metres (x right, y up, origin at the object's base) -> image pixels at distance ``depth``."""

    def __init__(self, x_px: float, base_y_px: float, depth: float, flip: bool, tilt: float):
        self.x_px, self.base_y_px, self.depth = x_px, base_y_px, depth
        self.flip, self.tilt = flip, tilt
        self.scale = FOCAL / depth

    def project(self, points: np.ndarray) -> np.ndarray:
        x, y = points[:, 0] * (-1 if self.flip else 1), points[:, 1]
        c, s = np.cos(self.tilt), np.sin(self.tilt)
        x, y = c * x - s * y, s * x + c * y
        return np.stack([self.x_px + x * self.scale, self.base_y_px - y * self.scale], axis=1)

    def part(
        self, points, rgb, temperature, *, offset: float = 0.0, width: float | None = None, solid: bool = True
    ) -> Part:
        return Part(
            self.project(points),
            rgb,
            self.depth + offset,
            temperature,
            None if width is None else width * self.scale,
            solid,
        )


def ground_y(horizon: float, depth: float) -> float:
    """Image row of the ground at ``depth`` metres."""
    return horizon + FOCAL * CAMERA_HEIGHT / depth


def depth_at_row(horizon: float, rows: np.ndarray) -> np.ndarray:
    below = np.maximum(rows - horizon, 1e-3)
    return np.minimum(FOCAL * CAMERA_HEIGHT / below, FAR)


def render(scene: Scene, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(RGB uint8 [H, W, 3], depth in metres [H, W], temperature in Celsius [H, W])."""
    rows = np.arange(HEIGHT, dtype=np.float32)[:, None].repeat(WIDTH, axis=1)
    sky = rows < scene.horizon
    rgb = np.empty((HEIGHT, WIDTH, 3), np.float32)
    rgb[:] = np.asarray(scene.ground_rgb, np.float32)
    gradient = np.clip((rows - scene.horizon) / (HEIGHT - scene.horizon + 1e-3), 0, 1)[..., None]
    rgb *= 0.75 + 0.35 * gradient
    sky_shade = np.clip(rows / max(scene.horizon, 1.0), 0, 1)[..., None]
    rgb[sky] = (np.asarray(scene.sky_rgb, np.float32) * (0.8 + 0.3 * sky_shade))[sky]
    if scene.setting == "wall":
        depth = np.full((HEIGHT, WIDTH), float(rng.uniform(4.0, 7.0)), np.float32)
        floor = ~sky
        depth[floor] = np.minimum(depth_at_row(scene.horizon, rows[floor]), depth[0, 0])
        temperature = np.full((HEIGHT, WIDTH), scene.ambient, np.float32)
    else:
        depth = np.where(sky, FAR, depth_at_row(scene.horizon, rows)).astype(np.float32)
        ground_temp = scene.ambient + (-6.0 if scene.setting == "sea" else 3.0)
        temperature = np.where(sky, scene.ambient - 25.0, ground_temp + 4.0 * gradient[..., 0]).astype(np.float32)
    if scene.setting == "sea":
        ripple = np.sin(rows * 0.9 + rng.uniform(0, 6)) * np.clip(gradient[..., 0], 0, 1)
        depth = np.where(sky, depth, depth * (1 + 0.03 * ripple)).astype(np.float32)
    texture = rng.normal(0, 6.0, (HEIGHT, WIDTH, 1)).astype(np.float32)
    rgb = (rgb + texture * (~sky)[..., None]) * scene.light
    for part in sorted(scene.parts, key=lambda p: -p.depth):
        mask = _rasterise(part)
        if not mask.any():
            continue
        shade = (0.85 + 0.3 * rng.random()) * (scene.light if part.solid else 1.0)
        rgb[mask] = np.asarray(part.rgb, np.float32) * shade + rng.normal(0, 5.0, (int(mask.sum()), 3))
        temperature[mask] = part.temperature
        if part.solid:
            depth[mask] = part.depth
    return np.clip(rgb, 0, 255).astype(np.uint8), depth, temperature


def _rasterise(part: Part) -> np.ndarray:
    canvas = Image.new("L", (WIDTH, HEIGHT), 0)
    draw = ImageDraw.Draw(canvas)
    points = [tuple(p) for p in part.points.tolist()]
    if part.width is None:
        if len(points) >= 3:
            draw.polygon(points, fill=255)
    else:
        draw.line(points, fill=255, width=max(1, round(part.width)), joint="curve")
    return np.asarray(canvas) > 0
