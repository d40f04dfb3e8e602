"""Files offered as query terms are checked when offered, not when searched: one that cannot be read is
refused with the reason and never joins (and breaks) the query. Runs on an engine thread."""

from __future__ import annotations

from pathlib import Path

from engine.workspace import DroppedFile, ModelMissing, QueryError, Term, Workspace


def readable(workspace: Workspace, file: DroppedFile) -> DroppedFile:
    """The file, or its refusal when it cannot be read: its embedding is made now (and kept for the search)."""
    if file.modality is None or file.item_id is not None:
        return file
    try:
        workspace.search([Term.file(file.path, 1.0, file.modality)], k=1, modalities=[file.modality])
    except ModelMissing:
        return file  # it cannot be checked without the model; the search will say so
    except QueryError as error:
        return DroppedFile(file.path, None, f"{Path(file.path).name} cannot be used: {error}")
    return file
