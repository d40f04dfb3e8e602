"""How modalities and clusters are drawn: one palette for the desktop app and the command line's map picture."""

from __future__ import annotations

import functools

from engine.modality import Modality

MODALITY_COLOURS = {
    Modality.VISION: "#4C78A8",
    Modality.TEXT: "#B279A2",
    Modality.AUDIO: "#F58518",
    Modality.DEPTH: "#54A24B",
    Modality.THERMAL: "#E45756",
    Modality.IMU: "#72B7B2",
}

# Clusters on the map (picture and app); -1 (HDBSCAN's noise) is drawn in NOISE_COLOUR.
CLUSTER_COLOURS = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#E45756",
    "#72B7B2",
    "#EECA3B",
    "#B279A2",
    "#FF9DA6",
    "#9D755D",
    "#BAB0AC",
)
NOISE_COLOUR = "#999999"


NOISE_LABEL = "unclustered"  # HDBSCAN's -1: points in no dense region, not a cluster of their own
DISTINCT_CLUSTERS = 64  # colours before the palette repeats


def cluster_colour(cluster: int) -> str:
    """The ten Tableau colours, then each next colour the one farthest from all before it: distinct for 64."""
    if cluster < 0:
        return NOISE_COLOUR
    palette = _spread(CLUSTER_COLOURS, DISTINCT_CLUSTERS)
    return palette[cluster % len(palette)]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@functools.cache
def _spread(start: tuple[str, ...], size: int) -> tuple[str, ...]:
    """Extend ``start`` greedily from a grid of hues and lightnesses, farthest-first (in RGB, away from grey)."""
    import colorsys

    candidates = []
    for step in range(36):
        for lightness in (0.35, 0.5, 0.65, 0.8):
            red, green, blue = colorsys.hls_to_rgb(step / 36, lightness, 0.7)
            candidates.append("#{:02X}{:02X}{:02X}".format(*(round(255 * c) for c in (red, green, blue))))
    chosen = list(start)

    def nearest(colour: str) -> float:
        rgb = _rgb(colour)
        return min(sum((a - b) ** 2 for a, b in zip(rgb, _rgb(c), strict=True)) for c in [*chosen, NOISE_COLOUR])

    while len(chosen) < size:
        chosen.append(max(candidates, key=nearest))
    return tuple(chosen)
