"""The prompt templates that turn a label into texts for zero-shot classification.

One list for the app, the command line, cluster naming, the bind trainer's evaluation and the
demo recipe: a label's text embedding is the normalised mean over these prompts (the
reference's zero-shot recipe), so every place that classifies must agree on them.
"""

from __future__ import annotations

ZERO_SHOT_TEMPLATES: tuple[str, ...] = ("a photo of a {}.", "a {}.", "the sound of a {}.", "a picture of a {}.")
