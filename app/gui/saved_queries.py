"""The Query menu's "Save query…" and "Saved queries": the named queries kept with the library, one click to
restore (terms, weights and filters), with Delete (undone by Undo delete) and Rename. The list renders
``SavedQueries``; the menu asks, and the window saves, deletes and renames through jobs."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMenu, QWidget

from app.state.saved_queries import SavedQueries, SavedQueryError
from app.state.session import Session


class SavedQueriesMenu(QMenu):
    """One entry per saved query, restored when chosen; a record that cannot be read says why in the status bar.
    Below them, Delete ▸ and Rename ▸ (one entry per query) and Undo delete; the window carries them out."""

    delete_requested = Signal(str)
    rename_requested = Signal(str, str)  # old name, new name
    undo_delete_requested = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None):
        super().__init__("Saved &queries", parent)
        self.session = session
        self.setToolTipsVisible(True)
        session.saved.changed.connect(self._show)
        session.saved.undo_changed.connect(lambda _: self._show(session.saved.names))
        self._show(session.saved.names)

    def _show(self, names: tuple[str, ...]) -> None:
        self.clear()
        for name in names:
            action = self.addAction(name)
            action.setToolTip(describe(self.session.saved, name))
            action.triggered.connect(lambda _=False, n=name: self.restore(n))
        if not names:
            self.addAction("No saved queries: Query ▸ Save query…").setEnabled(False)
        self.addSeparator()
        self.delete_menu = self.addMenu("&Delete")
        self.rename_menu = self.addMenu("Re&name")
        for name in names:
            self.delete_menu.addAction(name).triggered.connect(lambda _=False, n=name: self.delete_requested.emit(n))
            self.rename_menu.addAction(f"{name}…").triggered.connect(lambda _=False, n=name: self.rename(n))
        self.delete_menu.setEnabled(bool(names))
        self.rename_menu.setEnabled(bool(names))
        deleted = self.session.saved.deleted
        self.undo_action = self.addAction(f"&Undo delete of “{deleted[0]}”" if deleted else "&Undo delete")
        self.undo_action.setEnabled(deleted is not None)
        self.undo_action.triggered.connect(self.undo_delete_requested.emit)

    def rename(self, name: str) -> None:
        """Ask for the new name; an empty answer or the same name changes nothing."""
        new, ok = QInputDialog.getText(self, "Rename saved query", "New name:", QLineEdit.EchoMode.Normal, name)
        if ok and new.strip() and new.strip() != name:
            self.rename_requested.emit(name, new.strip())

    def restore(self, name: str) -> None:
        try:
            self.session.saved.restore(name)
        except SavedQueryError as error:
            self.session.fail(str(error))
        else:
            self.session.say(f"Restored the saved query “{name}”")


def describe(saved: SavedQueries, name: str) -> str:
    """A saved query's terms with their weights, for its tooltip."""
    terms = saved.records.get(name, {}).get("terms", [])
    return ", ".join(f"{term.get('name', '?')} ×{term.get('weight', 1)}" for term in terms) or "No terms"


def ask_query_name(parent: QWidget, session: Session) -> str | None:
    """The name to save the current query under, or None when there is nothing to save or the person cancels."""
    if not session.query.terms:
        session.fail("There is no query to save: add a term first")
        return None
    suggestion = session.query.terms[0].name.strip("“”")
    name, ok = QInputDialog.getText(parent, "Save query", "Name:", QLineEdit.EchoMode.Normal, suggestion)
    return name.strip() if ok and name.strip() else None
