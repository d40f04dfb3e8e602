"""How each concept looks, how far it stands and how warm it is: parts in metres, placed in a scene.

Each drawer receives the scene (its horizon and ambient temperature) and a random generator and
returns the parts of its object(s), already placed. Sizes, colours, poses, positions and
counts vary per scene, so no two observations are alike.
"""

from __future__ import annotations

import numpy as np

from engine.demo.concepts import per_concept
from engine.demo.scene import (
    CAMERA_HEIGHT,
    FOCAL,
    HEIGHT,
    WIDTH,
    Part,
    Placement,
    Scene,
    depth_at_row,
    ellipse,
    ground_y,
    poly,
    rect,
)

Rng = np.random.Generator


def _pick(rng: Rng, options):
    return options[rng.integers(len(options))]


def _jitter(rgb, rng: Rng, amount: float = 18.0):
    return tuple(float(np.clip(c + rng.normal(0, amount), 0, 255)) for c in rgb)


def _grounded(scene: Scene, rng: Rng, near: float, far: float, margin: float = 0.15) -> Placement:
    """Stand the object on the ground at a random distance, never so near that its base leaves the frame."""
    nearest_in_frame = FOCAL * CAMERA_HEIGHT / max(HEIGHT - 6 - scene.horizon, 1.0)
    near = max(near, nearest_in_frame)
    depth = float(rng.uniform(near, max(far, near * 1.3)))
    x = float(rng.uniform(WIDTH * margin, WIDTH * (1 - margin)))
    return Placement(x, ground_y(scene.horizon, depth), depth, bool(rng.random() < 0.5), float(rng.normal(0, 0.04)))


def dog(scene: Scene, rng: Rng) -> list[Part]:
    at = _grounded(scene, rng, 2.6, 5.0)
    coat = _jitter(_pick(rng, [(140, 90, 45), (40, 35, 30), (215, 190, 140), (200, 160, 90), (235, 235, 225)]), rng)
    ear = _jitter(tuple(c * 0.6 for c in coat), rng, 10)
    k, legs, body_t = rng.uniform(0.8, 1.25), rng.uniform(0.28, 0.4), scene.ambient + 12 + rng.normal(0, 1.5)
    stride = rng.uniform(-0.08, 0.08)
    parts = [
        at.part(
            rect(x - 0.03 * k + stride * s, 0, x + 0.03 * k + stride * s, legs + 0.05),
            coat,
            body_t - 2,
            offset=0.05 * s,
        )
        for x, s in ((-0.25 * k, 1), (-0.18 * k, -1), (0.2 * k, 1), (0.27 * k, -1))
    ]
    parts += [
        at.part(ellipse(0, legs + 0.1 * k, 0.36 * k, 0.15 * k), coat, body_t),
        at.part(
            poly((-0.33 * k, legs + 0.14 * k), (-0.5 * k, legs + rng.uniform(0.15, 0.35) * k)),
            coat,
            body_t - 4,
            width=0.05 * k,
        ),
        at.part(ellipse(0.42 * k, legs + 0.28 * k, 0.12 * k, 0.11 * k), coat, body_t + 1, offset=-0.01),
        at.part(ellipse(0.55 * k, legs + 0.25 * k, 0.08 * k, 0.045 * k), coat, body_t - 1, offset=-0.02),
        at.part(ellipse(0.62 * k, legs + 0.26 * k, 0.02 * k, 0.02 * k), (20, 20, 20), body_t - 3, offset=-0.03),
        at.part(ellipse(0.38 * k, legs + 0.24 * k, 0.045 * k, 0.1 * k), ear, body_t - 3, offset=-0.03),
    ]
    return parts


def cat(scene: Scene, rng: Rng) -> list[Part]:
    at = _grounded(scene, rng, 1.4, 2.6)
    fur = _jitter(_pick(rng, [(120, 120, 125), (220, 130, 50), (30, 30, 32), (240, 235, 225), (200, 180, 150)]), rng)
    k, t = rng.uniform(1.15, 1.55), scene.ambient + 9 + rng.normal(0, 1.5)
    # A cat sits upright: its silhouette, unlike a standing dog's, is taller than long.
    parts = [at.part(ellipse(0, 0.16 * k, 0.13 * k, 0.16 * k), fur, t)]
    hx, hy = 0.05 * k, 0.36 * k
    tail = poly((-0.17 * k, 0.2 * k), (-0.3 * k, 0.3 * k), (-0.26 * k, rng.uniform(0.4, 0.5) * k))
    parts += [
        at.part(tail, fur, t - 3, width=0.04 * k, offset=0.02),
        at.part(ellipse(hx, hy, 0.075 * k, 0.068 * k), fur, t + 1, offset=-0.01),
        at.part(
            poly((hx - 0.07 * k, hy + 0.03 * k), (hx - 0.05 * k, hy + 0.14 * k), (hx - 0.01 * k, hy + 0.05 * k)),
            fur,
            t - 2,
            offset=-0.01,
        ),
        at.part(
            poly((hx + 0.01 * k, hy + 0.05 * k), (hx + 0.05 * k, hy + 0.14 * k), (hx + 0.07 * k, hy + 0.03 * k)),
            fur,
            t - 2,
            offset=-0.01,
        ),
        at.part(ellipse(hx + 0.03 * k, hy + 0.01 * k, 0.012 * k, 0.012 * k), (90, 200, 90), t, offset=-0.02),
    ]
    if rng.random() < 0.5:  # tabby stripes
        stripe = tuple(c * 0.55 for c in fur)
        for i in range(3):
            x = -0.1 * k + i * 0.08 * k
            parts.append(
                at.part(poly((x, 0.26 * k), (x + 0.02 * k, 0.13 * k)), stripe, t, width=0.02 * k, offset=-0.005)
            )
    return parts


def bird(scene: Scene, rng: Rng) -> list[Part]:
    depth = float(rng.uniform(1.2, 2.4))
    feathers = _jitter(_pick(rng, [(200, 40, 40), (40, 90, 200), (230, 200, 40), (130, 90, 60), (30, 30, 30)]), rng)
    wing = _jitter(tuple(c * 0.7 for c in feathers), rng, 10)
    t = scene.ambient + 14 + rng.normal(0, 1.5)
    perched = rng.random() < 0.4
    x = float(rng.uniform(WIDTH * 0.2, WIDTH * 0.8))
    y = float(rng.uniform(HEIGHT * 0.15, max(scene.horizon - 10, HEIGHT * 0.25)))
    at = Placement(x, y, depth, bool(rng.random() < 0.5), float(rng.normal(0, 0.15)))
    parts = []
    if perched:
        branch = Placement(WIDTH / 2, y, depth + 0.05, False, float(rng.normal(0, 0.1)))
        parts.append(branch.part(poly((-0.9, -0.01), (0.9, 0.02)), (95, 70, 45), scene.ambient, width=0.035))
        wings = poly((-0.06, 0.05), (0.04, 0.07), (-0.09, 0.02))
    else:
        up = rng.uniform(0.05, 0.15) * _pick(rng, [1, -1])
        wings = poly((-0.04, 0.05), (0.03, 0.05), (-0.02, 0.05 + up), (-0.08, 0.05 + up * 0.8))
    parts += [
        at.part(ellipse(0, 0.05, 0.08, 0.045), feathers, t),
        at.part(poly((-0.07, 0.05), (-0.15, 0.08), (-0.15, 0.02)), wing, t - 6, offset=0.01),
        at.part(ellipse(0.08, 0.09, 0.035, 0.033), feathers, t + 1, offset=-0.01),
        at.part(poly((0.11, 0.1), (0.16, 0.085), (0.11, 0.075)), (240, 160, 40), t - 5, offset=-0.02),
        at.part(wings, wing, t - 8, offset=-0.015),
    ]
    return parts


def car(scene: Scene, rng: Rng) -> list[Part]:
    at = _grounded(scene, rng, 7.0, 13.0, margin=0.3)
    paint = _jitter(
        _pick(rng, [(190, 30, 30), (30, 60, 170), (185, 185, 190), (25, 25, 28), (240, 240, 240), (230, 200, 30)]), rng
    )
    hot, a = scene.ambient + rng.uniform(45, 70), scene.ambient
    length, roof = rng.uniform(3.8, 4.6), rng.uniform(1.35, 1.6)
    half = length / 2
    glass = (140, 180, 210)
    parts = [
        at.part(poly((-half, 0.3), (half, 0.3), (half, 0.75), (half - 0.4, 0.95), (-half, 0.95)), paint, a + 8),
        at.part(poly((-half * 0.55, 0.95), (half * 0.45, 0.95), (half * 0.2, roof), (-half * 0.4, roof)), paint, a + 5),
        at.part(
            poly((-half * 0.45, 1.0), (-0.05, 1.0), (-0.05, roof - 0.08), (-half * 0.35, roof - 0.08)),
            glass,
            a,
            offset=-0.05,
        ),
        at.part(
            poly((0.05, 1.0), (half * 0.38, 1.0), (half * 0.16, roof - 0.08), (0.05, roof - 0.08)),
            glass,
            a,
            offset=-0.05,
        ),
        at.part(rect(half - 0.6, 0.35, half, 0.75), paint, hot, offset=-0.04),
        at.part(rect(half - 0.12, 0.62, half, 0.74), (250, 240, 170), a + 15, offset=-0.06),
        at.part(rect(-half, 0.62, -half + 0.1, 0.74), (200, 20, 20), a + 10, offset=-0.06),
        at.part(rect(-half - 0.15, 0.3, -half, 0.38), (60, 60, 60), hot + 30, offset=-0.06),
    ]
    for wx in (-half + 0.85, half - 0.85):
        parts.append(at.part(ellipse(wx, 0.32, 0.33, 0.33), (20, 20, 20), a + 20, offset=-0.08))
        parts.append(at.part(ellipse(wx, 0.32, 0.13, 0.13), (150, 150, 155), a + 25, offset=-0.09))
    return parts


def train(scene: Scene, rng: Rng) -> list[Part]:
    depth = float(rng.uniform(14.0, 22.0))
    at = Placement(
        float(rng.uniform(WIDTH * 0.3, WIDTH * 0.7)),
        ground_y(scene.horizon, depth),
        depth,
        bool(rng.random() < 0.5),
        0.0,
    )
    paint = _jitter(_pick(rng, [(180, 30, 30), (30, 80, 160), (40, 120, 60), (190, 190, 195), (230, 180, 30)]), rng)
    a, length = scene.ambient, rng.uniform(22, 30)
    stripe = _jitter((240, 240, 240), rng, 10)
    parts = [
        at.part(rect(-length, -0.1, length * 0.4, 0.05), (90, 80, 70), a + 2, offset=-0.5),
        at.part(
            poly(
                (-length, 0.4),
                (length * 0.35, 0.4),
                (length * 0.35 + 2.0, 1.4),
                (length * 0.35 + 2.0, 3.6),
                (-length, 3.6),
            ),
            paint,
            a + 6,
        ),
        at.part(rect(-length, 1.2, length * 0.35 + 1.5, 1.45), stripe, a + 5, offset=-0.05),
        at.part(rect(-length, 3.3, length * 0.35 + 1.6, 3.7), tuple(c * 0.6 for c in paint), a + 12, offset=-0.05),
        at.part(rect(length * 0.35 - 3.0, 0.5, length * 0.35 + 1.8, 3.4), paint, a + rng.uniform(40, 60), offset=-0.1),
    ]
    x = -length + 1.0
    while x < length * 0.3 - 2.0:
        parts.append(at.part(rect(x, 1.9, x + 1.4, 3.0), (150, 190, 215), a + 3, offset=-0.1))
        x += rng.uniform(2.2, 2.8)
    for wx in np.arange(-length + 1.5, length * 0.35, 3.0):
        parts.append(at.part(ellipse(wx, 0.45, 0.45, 0.45), (30, 30, 30), a + 15, offset=-0.15))
    return parts


def helicopter(scene: Scene, rng: Rng) -> list[Part]:
    depth = float(rng.uniform(25.0, 38.0))
    x = float(rng.uniform(WIDTH * 0.3, WIDTH * 0.7))
    y = float(rng.uniform(HEIGHT * 0.3, max(scene.horizon - 8, HEIGHT * 0.35)))
    at = Placement(x, y, depth, bool(rng.random() < 0.5), float(rng.normal(0, 0.12)))
    paint = _jitter(_pick(rng, [(200, 30, 30), (230, 200, 40), (90, 100, 60), (235, 235, 235), (30, 60, 150)]), rng)
    a, engine = scene.ambient, scene.ambient + rng.uniform(60, 90)
    span = rng.uniform(5.0, 6.5)
    return [
        at.part(poly((-1.2, 0.2), (-5.0, 0.5)), paint, a + 5, width=0.3, offset=0.1),
        at.part(poly((-5.1, 0.3), (-5.4, 1.3), (-4.8, 0.5)), paint, a + 5, offset=0.1),
        at.part(ellipse(0, 0, 1.7, 0.95), paint, a + 10),
        at.part(ellipse(0.85, 0.15, 0.7, 0.55), (140, 180, 210), a, offset=-0.1),
        at.part(rect(-1.0, 0.8, 0.2, 1.2), (70, 70, 70), engine, offset=-0.05),
        at.part(poly((-0.2, 1.2), (-0.2, 1.45)), (50, 50, 50), a + 10, width=0.15),
        at.part(poly((-span, 1.5), (span, 1.45)), (40, 40, 40), a + 5, width=0.1, offset=-0.2),
        at.part(poly((-1.2, -1.2), (1.3, -1.2)), (50, 50, 50), a, width=0.12, offset=-0.05),
        at.part(ellipse(-5.2, 0.6, 0.45, 0.45), (60, 60, 60), a + 5, offset=0.05),
    ]


def rain(scene: Scene, rng: Rng) -> list[Part]:
    a = scene.ambient
    parts = []
    for _ in range(rng.integers(2, 5)):
        depth = float(rng.uniform(3.0, 8.0))
        at = Placement(float(rng.uniform(10, WIDTH - 10)), ground_y(scene.horizon, depth), depth, False, 0.0)
        parts.append(at.part(ellipse(0, 0, rng.uniform(0.6, 1.4), 0.04), (70, 80, 95), a - 3, offset=-0.01))
    slant = rng.uniform(-0.35, 0.35)
    for _ in range(rng.integers(45, 80)):
        depth = float(rng.uniform(0.8, 3.5))
        at = Placement(float(rng.uniform(0, WIDTH)), float(rng.uniform(0, HEIGHT)), depth, False, 0.0)
        length = rng.uniform(0.08, 0.2)
        shade = rng.uniform(170, 230)
        parts.append(at.part(poly((0, 0), (slant * length, length)), (shade, shade, shade + 10), a - 4, width=0.008))
    return parts


def fire(scene: Scene, rng: Rng) -> list[Part]:
    at = _grounded(scene, rng, 2.5, 4.5, margin=0.25)
    a = scene.ambient
    parts = [at.part(ellipse(0, 0, 1.1, 0.12), (230, 140, 60), a + 25, solid=False, offset=0.3)]
    for _ in range(rng.integers(3, 6)):
        angle = rng.uniform(-0.9, 0.9)
        length = rng.uniform(0.5, 0.8)
        parts.append(
            at.part(
                poly(
                    (-np.sin(angle) * length / 2, 0.05),
                    (np.sin(angle) * length / 2, 0.05 + np.cos(angle) * length * 0.6),
                ),
                (90, 55, 30),
                a + rng.uniform(120, 200),
                width=0.08,
                offset=-0.05,
            )
        )
    height = rng.uniform(0.6, 1.1)
    for colour, scale, heat in (((220, 40, 20), 1.0, 450), ((250, 140, 20), 0.75, 600), ((255, 230, 90), 0.45, 750)):
        for _ in range(rng.integers(2, 4)):
            cx = rng.normal(0, 0.12)
            h = height * scale * rng.uniform(0.7, 1.1)
            w = 0.18 * scale * rng.uniform(0.7, 1.3)
            tip = cx + rng.normal(0, 0.08)
            parts.append(
                at.part(
                    poly(
                        (cx - w, 0.1),
                        (cx - w * 0.5, 0.1 + h * 0.5),
                        (tip, 0.1 + h),
                        (cx + w * 0.5, 0.1 + h * 0.5),
                        (cx + w, 0.1),
                    ),
                    colour,
                    heat,
                    solid=False,
                    offset=-0.1 - scale * 0.01,
                )
            )
    for _ in range(rng.integers(3, 9)):
        x, y = rng.normal(0, 0.3), rng.uniform(0.8, 1.8)
        parts.append(at.part(ellipse(x, y, 0.02, 0.02), (255, 200, 80), 500, solid=False, offset=-0.2))
    return parts


def ocean(scene: Scene, rng: Rng) -> list[Part]:
    a = scene.ambient
    parts = []
    rows = np.sort(rng.uniform(scene.horizon + 3, HEIGHT - 2, rng.integers(5, 10)))
    for row in rows:
        depth = float(depth_at_row(scene.horizon, np.array([row]))[0])
        at = Placement(WIDTH / 2, float(row), depth, False, 0.0)
        xs = np.linspace(-WIDTH, WIDTH, 24) / at.scale
        phase, amp = rng.uniform(0, 6), rng.uniform(0.05, 0.2)
        crest = np.stack([xs, amp * np.sin(xs * rng.uniform(1.5, 3.0) + phase)], axis=1)
        parts.append(
            at.part(crest, (235, 240, 245), a - 13, width=rng.uniform(0.05, 0.12), offset=-0.05)
        )  # spray cools
    return parts


def bell(scene: Scene, rng: Rng) -> list[Part]:
    depth = float(rng.uniform(3.0, 5.0))
    x = float(rng.uniform(WIDTH * 0.3, WIDTH * 0.7))
    metal = _jitter(_pick(rng, [(180, 130, 50), (205, 170, 70), (170, 170, 175), (90, 70, 50)]), rng)
    a = scene.ambient
    k = rng.uniform(0.8, 1.2)
    top = float(rng.uniform(HEIGHT * 0.12, HEIGHT * 0.3))
    at = Placement(x, top + 0.9 * k * FOCAL / depth, depth, False, float(rng.normal(0, 0.12)))
    body = poly(
        (-0.45 * k, 0.0),
        (-0.36 * k, 0.12 * k),
        (-0.25 * k, 0.55 * k),
        (-0.18 * k, 0.8 * k),
        (0, 0.86 * k),
        (0.18 * k, 0.8 * k),
        (0.25 * k, 0.55 * k),
        (0.36 * k, 0.12 * k),
        (0.45 * k, 0.0),
    )
    beam = Placement(WIDTH / 2, top, depth + 0.1, False, 0.0)
    return [
        beam.part(rect(-3.0, 0.0, 3.0, 0.18), (110, 75, 40), a),
        at.part(poly((0, 0.85 * k), (0, 0.98 * k)), (60, 60, 60), a - 1, width=0.06),
        at.part(body, metal, a - 9),  # polished metal mirrors the cold sky
        at.part(rect(-0.46 * k, 0.0, 0.46 * k, 0.06 * k), tuple(c * 0.75 for c in metal), a - 2, offset=-0.02),
        at.part(ellipse(rng.normal(0, 0.05), -0.08 * k, 0.07 * k, 0.07 * k), (50, 45, 40), a - 2, offset=-0.05),
    ]


def guitar(scene: Scene, rng: Rng) -> list[Part]:
    depth = float(rng.uniform(1.8, 3.2))
    base = float(rng.uniform(HEIGHT * 0.75, HEIGHT * 0.97))  # standing on the floor or hanging on the wall
    at = Placement(
        float(rng.uniform(WIDTH * 0.3, WIDTH * 0.7)),
        base,
        depth,
        bool(rng.random() < 0.5),
        float(rng.uniform(-0.6, 0.6)),
    )
    wood = _jitter(
        _pick(rng, [(200, 150, 90), (170, 80, 30), (25, 25, 25), (180, 30, 40), (235, 230, 215), (210, 120, 40)]), rng
    )
    a = scene.ambient + 6  # warm from the player's hands and the stage lights
    electric = rng.random() < 0.35
    parts = []
    if electric:
        parts.append(
            at.part(
                poly(
                    (-0.2, 0.05),
                    (0.2, 0.05),
                    (0.22, 0.25),
                    (0.12, 0.3),
                    (0.16, 0.42),
                    (0.08, 0.38),
                    (-0.06, 0.36),
                    (-0.18, 0.42),
                    (-0.22, 0.25),
                ),
                wood,
                a,
            )
        )
        parts += [at.part(rect(-0.07, y, 0.07, y + 0.03), (220, 220, 220), a, offset=-0.01) for y in (0.16, 0.24)]
    else:
        parts += [
            at.part(ellipse(0, 0.2, 0.2, 0.18), wood, a),
            at.part(ellipse(0, 0.45, 0.15, 0.13), wood, a),
            at.part(ellipse(0, 0.38, 0.055, 0.055), (25, 20, 15), a - 1, offset=-0.01),
        ]
    parts += [
        at.part(rect(-0.025, 0.42, 0.025, 1.0), (120, 80, 40), a, offset=-0.01),
        at.part(poly((-0.04, 1.0), (0.04, 1.0), (0.05, 1.13), (-0.05, 1.13)), (60, 40, 20), a, offset=-0.01),
        at.part(rect(-0.07, 0.1, 0.07, 0.13), (40, 30, 20), a, offset=-0.02),
    ]
    for s in np.linspace(-0.018, 0.018, 4):
        parts.append(at.part(poly((s, 0.11), (s, 1.02)), (225, 225, 200), a, width=0.004, offset=-0.03))
    return parts


def crowd(scene: Scene, rng: Rng) -> list[Part]:
    parts = []
    for _ in range(rng.integers(8, 22)):
        depth = float(rng.uniform(4.0, 16.0))
        at = Placement(
            float(rng.uniform(0, WIDTH)), ground_y(scene.horizon, depth), depth, False, float(rng.normal(0, 0.03))
        )
        shirt = _jitter(
            _pick(rng, [(200, 40, 40), (40, 80, 180), (240, 240, 240), (30, 30, 30), (60, 140, 70), (230, 190, 40)]),
            rng,
            25,
        )
        skin = _jitter(_pick(rng, [(240, 200, 170), (200, 150, 110), (140, 95, 60), (90, 60, 40)]), rng, 10)
        h = rng.uniform(0.9, 1.1)
        parts += [
            at.part(rect(-0.17 * h, 0, 0.17 * h, 0.85 * h), (50, 50, 70), scene.ambient + 11),
            at.part(
                poly((-0.23 * h, 0.8 * h), (0.23 * h, 0.8 * h), (0.2 * h, 1.45 * h), (-0.2 * h, 1.45 * h)),
                shirt,
                scene.ambient + 14,
                offset=-0.01,
            ),
            at.part(ellipse(0, 1.6 * h, 0.11 * h, 0.13 * h), skin, 34 + rng.normal(0, 0.7), offset=-0.02),
        ]
    return parts


DRAWERS = per_concept(globals())
