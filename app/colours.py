"""How modalities and clusters are drawn: one palette for the desktop app and the command line's map picture."""

from __future__ import annotations

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


def cluster_colour(cluster: int) -> str:
    return NOISE_COLOUR if cluster < 0 else CLUSTER_COLOURS[cluster % len(CLUSTER_COLOURS)]
