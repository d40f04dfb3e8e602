"""The session as plain Python with events: the open library and its model, the query, results, the map's selection,
the saved queries and the status line; no Qt.

The window renders it and sends it intents; what it says about the library and the model is derived
here from what is known, so the status bar never says "No library open" while one is opening, nor
"Starting…" once it is shown. A message that reported a failure is cleared by the next success, so
"the query could not run" never outlives a query that did. In moments mode the searches rank the windows of
long recordings (when in a file the query matches) instead of whole files.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from psygnal import Signal

from app.state.filters import Filters
from app.state.map_selection import MapSelection
from app.state.query import Query
from app.state.saved_queries import SavedQueries

if TYPE_CHECKING:
    from engine.workspace import Item, LibrarySummary, Moment, SearchOutcome


class ModelStatus(Enum):
    NONE = "none"  # no library
    LOADING = "loading"
    READY = "ready"
    MISSING = "missing"  # not on this machine: the banner offers Download/Locate
    FAILED = "failed"


class Session:
    library_changed = Signal(object)  # LibrarySummary | None
    model_changed = Signal()  # ``model_status`` / ``model_text`` changed
    results_changed = Signal()  # ``outcome`` / ``results_title`` changed
    moments_changed = Signal(bool)  # searches now rank moments (True) or whole files
    status_changed = Signal(str)
    search_again = Signal()  # the filters changed under a query: run the current search again

    def __init__(self):
        self.query = Query()
        self.filters = Filters()
        self.filters.changed.connect(self._filters_changed)
        self.opening: str | None = None  # the folder being opened
        self.summary: LibrarySummary | None = None
        self.model_status = ModelStatus.NONE
        self.model_detail = ""
        self.outcome: SearchOutcome | None = None
        self.results_title = ""
        self.moments = False
        self.map_selection = MapSelection()  # what is selected on the map (drag, Shift adds, Ctrl removes)
        self.saved = SavedQueries(self)  # the named queries kept with the library
        self.message = ""
        self._message_is_failure = False

    # -- the library and its model ------------------------------------------------------------

    def begin_opening(self, folder: str) -> None:
        self.opening = folder
        self.say(f"Opening {Path(folder).name}…")
        self.model_changed.emit()

    def opened(self, summary: LibrarySummary) -> None:
        folder, self.opening = self.opening, None
        self.show_summary(summary)
        if folder is not None:
            self.say(f"Opened {Path(folder).name}; loading its model…")
        self.model_status = ModelStatus.LOADING
        self.model_changed.emit()

    def open_failed(self, message: str) -> None:
        self.opening = None
        self.fail(f"Could not open the library: {message}")
        self.model_changed.emit()

    def show_summary(self, summary: LibrarySummary) -> None:
        self.summary = summary
        if summary.saved_queries != self.saved.records:
            self.saved.load(summary.saved_queries)
        self.library_changed.emit(summary)

    def model_loading(self) -> None:
        self.model_status = ModelStatus.LOADING
        self.model_changed.emit()

    def model_loaded(self, description: str) -> None:
        self.model_status, self.model_detail = ModelStatus.READY, description
        self.model_changed.emit()
        self.say(f"Model ready: {description}")

    def model_missing(self, message: str) -> None:
        self.model_status, self.model_detail = ModelStatus.MISSING, message
        self.model_changed.emit()
        self.say(message)

    def model_failed(self, message: str) -> None:
        self.model_status, self.model_detail = ModelStatus.FAILED, message
        self.model_changed.emit()
        self.fail(f"The model could not be loaded: {message}")

    @property
    def model_ready(self) -> bool:
        """Whether the model question is settled (loaded, missing or failed): searches may be asked."""
        return self.model_status not in (ModelStatus.LOADING,) and self.opening is None

    def model_text(self) -> str:
        """The status bar's model button: what is true now."""
        if self.opening is not None:
            return f"Opening {Path(self.opening).name}…"
        if self.summary is None:
            return "No library open"
        if self.model_status is ModelStatus.LOADING:
            return "Loading the model…"
        if self.model_status is ModelStatus.READY:
            return self.model_detail
        if self.model_status is ModelStatus.MISSING:
            return self.model_detail.split(":")[0]
        return "Model unavailable"

    # -- results, selection, status ----------------------------------------------------------------

    def _filters_changed(self, _) -> None:
        if self.query.terms:
            self.search_again.emit()

    def searched(self, outcome: SearchOutcome | None, title: str) -> None:
        self.outcome, self.results_title = outcome, title
        self.results_changed.emit()
        if self._message_is_failure:
            self.say("")

    def set_moments(self, on: bool) -> None:
        """Search for moments (windows of long recordings) instead of whole files, from the next search on."""
        if on != self.moments:
            self.moments = on
            self.moments_changed.emit(on)

    def moment_hits(self) -> list[tuple[Item, Moment]]:
        """The last search's moments with their items, best first; none after a search for whole files."""
        if self.outcome is None:
            return []
        return [(self.outcome.items[m.item_id], m) for m in self.outcome.moments if m.item_id in self.outcome.items]

    def say(self, text: str) -> None:
        self.message, self._message_is_failure = text, False
        self.status_changed.emit(text)

    def fail(self, text: str) -> None:
        """A message about a failure: it stays until the next success or message."""
        self.message, self._message_is_failure = text, True
        self.status_changed.emit(text)
