"""The library map as a PNG picture for the command line: points coloured by modality (or cluster), with a legend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from app.colours import MODALITY_COLOURS, cluster_colour
from engine.modality import Modality
from engine.workspace import Projection

SIZE, MARGIN, LEGEND = 1200, 40, 170


def draw_map(projection: Projection, out: Path, clusters: np.ndarray | None = None) -> Path:
    image = Image.new("RGB", (SIZE + LEGEND, SIZE), "white")
    draw = ImageDraw.Draw(image)
    coords = projection.coords
    low, high = coords.min(axis=0), coords.max(axis=0)
    span = np.where(high - low > 1e-9, high - low, 1.0)
    pixels = MARGIN + (coords - low) / span * (SIZE - 2 * MARGIN)
    radius = 4 if len(coords) < 2000 else 2
    if clusters is None:
        colours = [MODALITY_COLOURS[Modality(m)] for m in projection.modalities]
        legend = [(m.label, MODALITY_COLOURS[m]) for m in Modality if (projection.modalities == m.value).any()]
    else:
        colours = [cluster_colour(c) for c in clusters.tolist()]
        legend = [(f"cluster {c}", cluster_colour(c)) for c in sorted(set(clusters.tolist()) - {-1})][:30]
    for (x, y), colour in zip(pixels, colours, strict=True):
        y = SIZE - y
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    for row, (name, colour) in enumerate(legend):
        top = MARGIN + row * 26
        draw.ellipse((SIZE + 10, top, SIZE + 24, top + 14), fill=colour)
        draw.text((SIZE + 32, top), name, fill="black")
    draw.text((MARGIN, 10), f"{len(coords)} items, {projection.method.upper()}", fill="black")
    image.save(out)
    return out
