"""Exported results say what produced them: the query's terms and weights, the filter, the model, the library and
the time, with rows ranked by score (the window groups cards by modality; a file is read by score)."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime
from pathlib import Path

from app.state.query import QueryTerm
from engine.workspace import Item


def export_record(
    cards: list[tuple[Item, float]],
    terms: tuple[QueryTerm, ...],
    model: str,
    library: str,
    when: datetime,
    spans: list[tuple[float, float]] | None = None,
    filter: str = "",
) -> dict:
    """The export as one record: where it came from, and the results best score first (a map selection,
    unscored, keeps its order). With ``spans`` (one a card: moments), each row is a window of its file and
    carries its ``start`` and ``end`` in seconds. ``filter`` describes the filter the results passed ("" for
    none): results under a folder or a date range are not the library's nearest."""
    order = sorted(range(len(cards)), key=lambda n: -cards[n][1] if not math.isnan(cards[n][1]) else math.inf)
    ranked = [cards[n] for n in order]
    rows = [
        {
            "rank": rank,
            "score": None if math.isnan(score) else round(score, 6),
            "modality": item.modality.value,
            "name": item.name,
            "path": item.path,
            "text": item.text if item.text is not None else (item.name if item.path is None else ""),
            "item": item.id,
        }
        for rank, (item, score) in enumerate(ranked, start=1)
    ]
    if spans is not None:
        for row, n in zip(rows, order, strict=True):
            row["start"], row["end"] = round(spans[n][0], 3), round(spans[n][1], 3)
    return {
        "query": [
            {"term": t.name, "modality": t.modality.value, "weight": t.weight, "source": t.source} for t in terms
        ],
        "filter": filter,
        "model": model,
        "library": library,
        "exported": when.isoformat(timespec="seconds"),
        "results": rows,
    }


def write_export(path: str, record: dict) -> str:
    """JSON as the record; CSV one row per result, each carrying the query, model, library and time."""
    if path.lower().endswith(".json"):
        Path(path).write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
        return path
    query = "; ".join(f"{t['term']} ×{t['weight']:+.2f}" for t in record["query"])
    context = {"query": query, **{key: record[key] for key in ("filter", "model", "library", "exported")}}
    rows = [{**row, **context} for row in record["results"]]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
