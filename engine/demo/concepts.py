"""The demo world's concepts and the words used to talk about them."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Concept:
    name: str
    nouns: tuple[str, ...]  # caption synonyms, the first is the label
    flying: bool = False
    places: tuple[str, ...] = ("outside",)


CONCEPTS: tuple[Concept, ...] = (
    Concept("dog", ("dog", "puppy", "hound"), places=("in a park", "on the grass", "in the yard", "on a path")),
    Concept("cat", ("cat", "kitten", "house cat"), places=("in the garden", "on the lawn", "by the fence", "outside")),
    Concept(
        "bird", ("bird", "songbird", "sparrow"), flying=True, places=("in the sky", "on a branch", "above the trees")
    ),
    Concept("car", ("car", "sedan", "automobile"), places=("on the road", "in a parking lot", "on the street")),
    Concept(
        "train",
        ("train", "locomotive", "passenger train"),
        places=("on the tracks", "at the station", "in the countryside"),
    ),
    Concept(
        "helicopter", ("helicopter", "chopper"), flying=True, places=("in the sky", "over the field", "above the city")
    ),
    Concept("rain", ("rain", "rainstorm", "downpour"), places=("on the street", "over the town", "on the pavement")),
    Concept("fire", ("fire", "campfire", "bonfire"), places=("at night", "in the woods", "on the beach")),
    Concept("ocean", ("ocean", "sea", "ocean waves"), places=("at the coast", "under the sky", "at the horizon")),
    Concept(
        "bell", ("bell", "church bell", "bronze bell"), places=("in the tower", "on a wooden beam", "against the sky")
    ),
    Concept(
        "guitar",
        ("guitar", "acoustic guitar", "electric guitar"),
        places=("on stage", "against the wall", "in the studio"),
    ),
    Concept(
        "crowd",
        ("crowd", "crowd of people", "group of people"),
        places=("in the square", "at a concert", "on the street"),
    ),
)

CONCEPT_NAMES: tuple[str, ...] = tuple(c.name for c in CONCEPTS)
BY_NAME = {c.name: c for c in CONCEPTS}

_CAPTIONS = (
    "a photo of a {noun}",
    "a photo of the {noun}",
    "a {noun} {place}",
    "a {adjective} {noun} {place}",
    "a {noun} {place} {time}",
    "a picture of a {adjective} {noun}",
    "{noun} {place}",
    "there is a {noun} {place}",
    "a close-up of a {noun}",
    "a {noun}, seen {time}",
    "an image showing a {noun} {place}",
    "a blurry photo of a {noun}",
)
_ADJECTIVES = ("small", "large", "bright", "dark", "colourful", "lonely", "distant", "nearby", "noisy", "quiet")
_TIMES = ("in the morning", "at noon", "in the evening", "at dusk", "on a cloudy day", "on a sunny day")


def per_concept(namespace: dict) -> dict:
    """The functions named after each concept in a module's namespace (``DRAWERS = per_concept(globals())``)."""
    return {name: namespace[name] for name in CONCEPT_NAMES}


def caption(concept: Concept, rng) -> str:
    """One caption of a scene, from varied templates and synonyms."""
    template = _CAPTIONS[rng.integers(len(_CAPTIONS))]
    text = template.format(
        noun=concept.nouns[rng.integers(len(concept.nouns))],
        place=concept.places[rng.integers(len(concept.places))],
        adjective=_ADJECTIVES[rng.integers(len(_ADJECTIVES))],
        time=_TIMES[rng.integers(len(_TIMES))],
    )
    return re.sub(r"\ba ([aeiou])", r"an \1", text)
