"""File dialogs that open where the person last was, for each kind of thing asked for (a library, a folder to
add, query files, exports), remembered across sessions."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget


class LastFolders:
    def __init__(self, settings: QSettings):
        self.settings = settings

    def folder(self, kind: str) -> str:
        value = self.settings.value(f"folders/{kind}", "")
        return value if value and Path(value).is_dir() else ""

    def remember(self, kind: str, path: str) -> None:
        """Keep the folder of ``path`` (or ``path`` itself when it is a folder) for the next dialog of ``kind``."""
        if path:
            folder = path if Path(path).is_dir() else str(Path(path).parent)
            self.settings.setValue(f"folders/{kind}", folder)

    def ask_folder(self, parent: QWidget, kind: str, title: str) -> str:
        folder = QFileDialog.getExistingDirectory(parent, title, self.folder(kind))
        self.remember(kind, folder)
        return folder

    def ask_open(self, parent: QWidget, kind: str, title: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(parent, title, self.folder(kind), filters)
        self.remember(kind, path)
        return path

    def ask_open_many(self, parent: QWidget, kind: str, title: str, filters: str) -> list[str]:
        paths, _ = QFileDialog.getOpenFileNames(parent, title, self.folder(kind), filters)
        if paths:
            self.remember(kind, paths[0])
        return paths

    def ask_save(self, parent: QWidget, kind: str, title: str, name: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(parent, title, str(Path(self.folder(kind)) / name), filters)
        self.remember(kind, path)
        return path
