"""Exported results record what produced them and rank by score (defect 7)."""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime

from app.state.export import export_record, write_export
from app.state.query import text_term
from engine.modality import Modality
from engine.workspace import Item

WHEN = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)


def item(id_: int, modality: Modality, path: str | None = None, text: str | None = None) -> Item:
    return Item(id_, modality, path, text, f"h{id_}", "embedded")


CARDS = [  # as the window shows them: grouped by modality, not by score
    (item(1, Modality.AUDIO, "/a/bark.wav"), 0.31),
    (item(2, Modality.AUDIO, "/a/rain.wav"), 0.12),
    (item(3, Modality.TEXT, text="a dog barks"), 0.58),
    (item(4, Modality.VISION, "/i/dog.png"), 0.44),
]


def test_the_record_names_query_weights_model_library_time_and_ranks_by_score():
    record = export_record(CARDS, (text_term("dog", 0.5),), "Demo model", "/libs/demo", WHEN)
    assert record["query"] == [{"term": "“dog”", "modality": "text", "weight": 0.5, "source": "dog"}]
    assert (record["model"], record["library"], record["exported"]) == (
        "Demo model",
        "/libs/demo",
        "2026-11-28T13:00:00+00:00",
    )
    assert [r["item"] for r in record["results"]] == [3, 4, 1, 2]
    assert record["results"][0]["text"] == "a dog barks" and record["results"][0]["rank"] == 1


def test_csv_rows_carry_the_context_and_json_is_the_record(tmp_path):
    record = export_record(CARDS, (text_term("dog"),), "Demo model", "/libs/demo", WHEN)
    write_export(str(tmp_path / "r.csv"), record)
    with open(tmp_path / "r.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["query"] == "“dog” ×+1.00" and rows[0]["model"] == "Demo model" and rows[0]["item"] == "3"
    write_export(str(tmp_path / "r.json"), record)
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == record


def test_the_filter_the_results_passed_is_recorded(tmp_path):
    record = export_record(CARDS, (text_term("dog"),), "m", "l", WHEN, filter="under /media/drone, from 2019-01-31")
    assert record["filter"] == "under /media/drone, from 2019-01-31"
    write_export(str(tmp_path / "r.csv"), record)
    with open(tmp_path / "r.csv", encoding="utf-8") as handle:
        assert {row["filter"] for row in csv.DictReader(handle)} == {"under /media/drone, from 2019-01-31"}
    assert export_record(CARDS, (), "m", "l", WHEN)["filter"] == ""


def test_a_map_selection_without_scores_keeps_its_order():
    cards = [(item(i, Modality.VISION, f"/i/{i}.png"), math.nan) for i in (5, 2, 9)]
    record = export_record(cards, (), "m", "l", WHEN)
    assert [r["item"] for r in record["results"]] == [5, 2, 9] and record["results"][0]["score"] is None


def test_moments_rows_keep_their_window_through_the_ranking():
    long = item(7, Modality.AUDIO, "/a/long.wav")
    cards = [(long, 0.2), (long, 0.6), (item(8, Modality.VISION, "/v/walk.mp4"), 0.4)]
    record = export_record(cards, (), "m", "l", WHEN, [(3.0, 9.0), (10.0, 16.0), (1.5, 3.5)])
    assert [(r["item"], r["start"], r["end"], r["score"]) for r in record["results"]] == [
        (7, 10.0, 16.0, 0.6),
        (8, 1.5, 3.5, 0.4),
        (7, 3.0, 9.0, 0.2),
    ]
    assert "start" not in export_record(cards, (), "m", "l", WHEN)["results"][0]
