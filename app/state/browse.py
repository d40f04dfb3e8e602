"""The set being browsed and its pages, sort, density and picks; no Qt.

A set is a library listing (a folder, a modality, failed or offline items: counted and paged by
offset from the workspace's indexes, so a million rows are never loaded) or explicit items (search
results with their scores, a map selection), ordered once and then paged the same way. A listing shows what the session's filters let through. Rows are
read a page at a time when a view asks for one; the newest pages are kept, and a page that arrives
for a set or sort no longer shown is dropped. Engine calls go through ``run(work, done)``: the
window runs them as jobs off the GUI thread, tests run them at once.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from psygnal import Signal

from app.state.picks import Picks
from app.state.query import QueryTerm, item_term, selection_term
from engine.workspace import Filter, Item, Listing, Workspace

PAGE = 120
KEEP_PAGES = 60  # pages kept in memory: a few screens either side of where the view is
MOST_PICKED = 10_000  # the most items an action on a selection reads
DENSITIES = (("Compact", 88), ("Comfortable", 150), ("Large", 230))  # card thumbnail sides in pixels
SORT_NAMES = {"score": "Score", "path": "Path", "date": "Date"}

Run = Callable[[Callable[[], Any], Callable[[Any], None]], None]


@dataclass(frozen=True)
class BrowseSet:
    """What is browsed: a library ``listing``, or explicit ``ids`` (with ``scores`` when they are results, and
    ``items`` when they are already read)."""

    title: str
    listing: Listing | None = None
    ids: tuple[int, ...] = ()
    scores: Mapping[int, float] = field(default_factory=dict)
    items: Mapping[int, Item] = field(default_factory=dict)

    @property
    def sorts(self) -> tuple[str, ...]:
        return ("score", "path", "date") if self.scores else ("path", "date")


def listing_set(title: str, listing: Listing) -> BrowseSet:
    return BrowseSet(title, listing=listing)


def results_set(title: str, cards: list[tuple[Item, float]]) -> BrowseSet:
    """Search results: their items and scores are in hand, so paging them reads nothing."""
    return BrowseSet(
        title,
        ids=tuple(item.id for item, _ in cards),
        scores={item.id: score for item, score in cards},
        items={item.id: item for item, _ in cards},
    )


def chosen_set(title: str, ids) -> BrowseSet:
    return BrowseSet(title, ids=tuple(int(i) for i in ids))


class Browse:
    opened = Signal()  # a new set, sort or total: every row is to be read again
    rows_arrived = Signal(int, int)  # first row, how many
    density_changed = Signal(int)
    failed = Signal(str)

    def __init__(
        self,
        workspace: Callable[[], Workspace | None],
        run: Run,
        page: int = PAGE,
        filters: Callable[[], Filter | None] = lambda: None,
    ):
        self._workspace = workspace
        self._filters = filters  # the session's filters: a listing shows what they let through
        self._run = run
        self.page = page
        self.set: BrowseSet | None = None
        self.sort = "path"
        self.descending = False
        self.total = 0
        self.density = 1
        self.picks = Picks()
        self._order: list[int] | None = None  # an explicit set's ids in the current sort
        self._pages: OrderedDict[int, list[Item]] = OrderedDict()
        self._asked: set[int] = set()
        self._generation = 0

    # -- the set and its order ----------------------------------------------------------------

    def open(self, chosen: BrowseSet, sort: str | None = None, descending: bool | None = None) -> None:
        """Browse ``chosen`` (results best first; a listing by path unless told)."""
        self.set = chosen
        self.sort = sort if sort in chosen.sorts else chosen.sorts[0]
        self.descending = (self.sort == "score") if descending is None else descending
        self._reload()

    def set_sort(self, sort: str, descending: bool = False) -> None:
        if self.set is not None and sort in self.set.sorts and (sort, descending) != (self.sort, self.descending):
            self.sort, self.descending = sort, descending
            self._reload()

    def set_density(self, density: int) -> None:
        density = min(max(density, 0), len(DENSITIES) - 1)
        if density != self.density:
            self.density = density
            self.density_changed.emit(density)

    def clear(self) -> None:
        """Browse nothing (another library was opened)."""
        self.set = None
        self._generation += 1
        self._forget()
        self._show(0, True)

    def refresh(self) -> None:
        """The library changed: count and read the set again, showing the rows read before until then (the view
        keeps its place, and the picks stay while the count does)."""
        if self.set is not None:
            self._reload(fresh=False)

    def refilter(self) -> None:
        """The filters changed: the set is another one, read from its top with nothing picked."""
        if self.set is not None:
            self._reload()

    def _reload(self, fresh: bool = True) -> None:
        self._generation += 1
        generation, chosen, sort, descending = self._generation, self.set, self.sort, self.descending
        if fresh:
            self._forget()
            self._show(0, True)
        workspace = self._workspace()
        if chosen.listing is not None:
            if workspace is None:
                return
            chosen_filter = self._filters()
            self._run(
                lambda: workspace.count(chosen_filter, chosen.listing),
                lambda n: self._counted(generation, n, None, fresh),
            )
        elif sort == "score":
            order = sorted(chosen.ids, key=lambda i: _score_key(chosen.scores.get(i)), reverse=descending)
            self._counted(generation, len(order), order, fresh)
        elif workspace is not None:
            self._run(
                lambda: workspace.ordered(list(chosen.ids), sort, descending),
                lambda order: self._counted(generation, len(order), order, fresh),
            )

    def _forget(self) -> None:
        self._pages.clear()
        self._asked.clear()
        self._order = None

    def _counted(self, generation: int, total: int, order: list[int] | None, fresh: bool) -> None:
        if generation == self._generation:
            self._generation += 1  # a page asked for before the count belongs to the set as it was
            self._forget()
            self._order = order
            self._show(total, fresh or total != self.total)

    def _show(self, total: int, unpick: bool) -> None:
        self.total = total
        if unpick:
            self.picks.reset(total)
        self.opened.emit()

    # -- rows ---------------------------------------------------------------------------------

    def item(self, row: int) -> Item | None:
        """The item at ``row``, or None while its page is read (``rows_arrived`` says when it is here)."""
        start = row - row % self.page
        if start not in self._pages:
            self._ask(start)
        page = self._pages.get(start)
        if page is None:
            return None
        self._pages.move_to_end(start)
        offset = row - start
        return page[offset] if offset < len(page) else None

    def score(self, item: Item) -> float:
        return self.set.scores.get(item.id, math.nan) if self.set is not None else math.nan

    def _ask(self, start: int) -> None:
        if start in self._asked or not 0 <= start < self.total:
            return
        self._asked.add(start)
        generation = self._generation
        in_hand = self._in_hand(start, self.page)
        if in_hand is not None:  # results: their items came with them
            self._arrived(generation, start, in_hand)
        else:
            self._run(self._reader(start, self.page), lambda items: self._arrived(generation, start, items))

    def _in_hand(self, offset: int, limit: int) -> list[Item] | None:
        if self.set.listing is not None:
            return None
        ids = self._order[offset : offset + limit]
        return [self.set.items[i] for i in ids] if all(i in self.set.items for i in ids) else None

    def _reader(self, offset: int, limit: int) -> Callable[[], list[Item]]:
        """Work that reads rows ``offset`` .. ``offset + limit`` of the set as it is ordered now."""
        chosen, sort, descending, order = self.set, self.sort, self.descending, self._order
        workspace = self._workspace()
        if chosen.listing is not None:
            chosen_filter = self._filters()
            return lambda: workspace.listing(
                chosen_filter, sort, offset, limit, within=chosen.listing, descending=descending
            )
        ids = order[offset : offset + limit]

        def read() -> list[Item]:
            found = {item.id: item for item in workspace.items(ids)}
            return [found[i] for i in ids if i in found]

        return read

    def _arrived(self, generation: int, start: int, items: list[Item]) -> None:
        if generation != self._generation:
            return
        self._pages[start] = items
        while len(self._pages) > KEEP_PAGES:
            gone, _ = self._pages.popitem(last=False)
            self._asked.discard(gone)
        self.rows_arrived.emit(start, len(items))

    # -- what a selection does ----------------------------------------------------------------

    def picked_note(self) -> str:
        """What an action on the picked cards leaves out, said plainly: "" or " (the first 10,000 of 25,000
        picked)"."""
        count = self.picks.count
        return f" (the first {MOST_PICKED:,} of {count:,} picked)" if count > MOST_PICKED else ""

    def picked(self, done: Callable[[list[Item]], None]) -> None:
        """The selected items (or the current one), in order, read where not in memory: at most ``MOST_PICKED``."""
        rows = self.picks.rows()[:MOST_PICKED]
        if not rows:
            done([])
            return
        size, generation = self.page, self._generation
        pages = {start: self._pages.get(start) for start in sorted({row - row % size for row in rows})}
        readers = {start: self._reader(start, size) for start, page in pages.items() if page is None}

        def arrived(read: dict[int, list[Item]]) -> None:
            if generation == self._generation:
                found = {**pages, **read}
                done([found[row - row % size][row % size] for row in rows if row % size < len(found[row - row % size])])

        if readers:
            self._run(lambda: {start: reader() for start, reader in readers.items()}, arrived)
        else:
            arrived({})


def query_term(items: list[Item]) -> QueryTerm | None:
    """Picked items as one query term: an item, or "Selection of N items" in its commonest modality."""
    if not items:
        return None
    if len(items) == 1:
        item = items[0]
        return item_term(item.id, item.modality, item.name, item.source)
    modality = Counter(item.modality for item in items).most_common(1)[0][0]
    return selection_term([item.id for item in items], modality)


def paths_text(items: list[Item]) -> str:
    """What "Copy paths" copies: one path (or text) a line."""
    return "\n".join(item.path if item.path is not None else (item.text or "") for item in items)


def _score_key(score: float | None) -> float:
    return -math.inf if score is None or math.isnan(score) else score
