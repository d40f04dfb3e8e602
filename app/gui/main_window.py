"""BindScope's main window: library sidebar, query composer, results grid, map and zero-shot panel.

The window is layout and wiring over the session (``app.state``): the query and its history,
the library and its model, results and status live there, and widgets render them. Every engine
call is a job (``app.state.jobs``) on a lane: quick ones (searches, the library's summary,
describing a dropped file) on one, long ones (indexing, the map, re-embedding) on another, and
the model on its own, so a search answers while the library is being indexed and the model
loads while the map is computed. The window never touches the workspace itself.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QWidget,
)

from app.gui.browse_panel import attach_browse
from app.gui.composer import QueryComposer
from app.gui.dialogs import LastFolders
from app.gui.filter_bar import FilterBar
from app.gui.keys import ShortcutsDialog
from app.gui.library_panel import LibraryPanel
from app.gui.map_view import MapView
from app.gui.playback import media_player, play_from
from app.gui.previews import PreviewLoader
from app.gui.results import ResultsPanel, reveal_in_folder
from app.gui.saved_queries import SavedQueriesMenu, ask_query_name
from app.gui.status_message import StatusMessage
from app.gui.worker import GuiPost
from app.gui.zero_shot import ZeroShotPanel
from app.state.export import export_record, write_export
from app.state.filters import SearchJob, SearchRequest
from app.state.jobs import Job, Lane, Progress, Runner
from app.state.offers import readable
from app.state.query import item_term, selection_term
from app.state.session import Session
from app.timecode import clock
from engine.facts import DEMO_LABELS, default_library, formats_help
from engine.modality import Modality
from engine.workspace import ModelMissing, Term, Workspace, download_model, explain

if TYPE_CHECKING:
    from engine.workspace import LibrarySummary, MapData, SearchOutcome

ORGANISATION, APPLICATION = "BindScope", "BindScope"
MAX_RECENT = 8
SEARCH_PAUSE_MS = 180  # a query change searches after this pause: a slider drag asks for one search, not fifty


def demo_gallery_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or tempfile.gettempdir()) / "demo"


class MainWindow(QMainWindow):
    ready = Signal()  # the library (if any) is shown and its model loaded, or known to be missing

    def __init__(
        self,
        settings: QSettings | None = None,
        model: str | None = None,
        device: str | None = None,
        library: str | None = None,
    ):
        super().__init__()
        self._library_request = library
        self.settings = settings or QSettings(ORGANISATION, APPLICATION)
        self.new_library_model = model if model is not None else self.settings.value("model", None)
        self.device = device or self.settings.value("device", "auto")
        self.reduced_jpeg = self.settings.value("reduced_jpeg", False, type=bool)
        self.workspace: Workspace | None = None  # used only inside jobs, on the engine threads
        self.session = Session()
        self.query = self.session.query
        self.map_data: MapData | None = None
        self._started = False  # until _start decides whether a library opens, offered files wait
        self._files_waiting: list[tuple[list[str], Modality | None]] = []
        self._folders_to_index: list[str] = []  # the folders of the indexing job waiting to start
        self._serial = 0
        self._player = None
        self.setWindowTitle("BindScope")
        self.setAcceptDrops(True)
        screen = QGuiApplication.primaryScreen().availableGeometry()  # never larger than the screen: 1280x720 fits
        self.resize(min(1500, screen.width()), min(940, screen.height()))

        self.jobs = Runner(post=GuiPost(self).post, describe_error=lambda error: explain(error)[1])
        self.jobs.activity.connect(self._show_activity)
        self.previews = PreviewLoader(parent=self)

        self.folders = LastFolders(self.settings)
        self.composer = QueryComposer(self.previews, self.query, self.folders)
        self._search_pause = QTimer(self, singleShot=True, interval=SEARCH_PAUSE_MS)
        self._search_pause.timeout.connect(self.run_query)
        self.query.changed.connect(lambda _: self._search_pause.start())
        self.composer.message.connect(self.say)
        self.composer.filesOffered.connect(self.describe_files)
        self.results = ResultsPanel(self.previews)
        self.results.filtersChanged.connect(lambda: self.session.set_moments(self.results.moments.isChecked()))
        self.results.filtersChanged.connect(self.run_query)
        self.results.useAsQuery.connect(self.query.replace)
        self.results.addToQuery.connect(self.query.add)
        self.results.wantsScores.connect(self.moment_scores)
        self.results.showOnMap.connect(self.show_on_map)
        self.results.play.connect(self.play)
        self.results.message.connect(self.say)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.composer)
        splitter.addWidget(self.results)
        splitter.setSizes([330, 610])
        self.splitter = splitter
        self.setCentralWidget(splitter)

        self.library_panel = LibraryPanel(self.fetch_failed)
        self.library_panel.addFolder.connect(self.add_folder)
        self.library_panel.rescan.connect(self.rescan)
        self.library_panel.cancel.connect(self.cancel_work)
        self.library_panel.removeRoot.connect(self.remove_root)
        self.library_panel.moveRoot.connect(self.move_root)
        self.library_panel.forgetMissing.connect(self.forget_missing)
        self.library_panel.revealFailed.connect(lambda path: path and self.say(reveal_in_folder(path)))
        self.library_panel.downloadModel.connect(self.download_library_model)
        self.library_panel.locateModel.connect(self.locate_library_model)
        self.library_dock = self._dock("Library", self.library_panel, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.map_view = MapView(self.previews, selection=self.session.map_selection)
        self.map_view.itemClicked.connect(self.neighbours_of)
        self.map_view.hoverItem.connect(self.hover_item)
        self.map_view.searchSelection.connect(self.search_selection)
        self.map_view.recolour.connect(lambda mode: self.refresh_map())
        self.zero_shot = ZeroShotPanel()
        self.zero_shot.labelsEdited.connect(self.save_labels)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.map_view, "Map")
        self.side_tabs.addTab(self.zero_shot, "Zero-shot")
        self.side_dock = self._dock("Map and labels", self.side_tabs, Qt.DockWidgetArea.RightDockWidgetArea)
        width = self.width()  # on a small screen the query's six panes keep room between the docks
        self.resizeDocks(
            [self.library_dock, self.side_dock],
            [min(250, width // 6), min(470, width * 2 // 7)],
            Qt.Orientation.Horizontal,
        )

        self.filter_bar = FilterBar(self.session)
        self.addToolBar(self.filter_bar)
        self.session.search_again.connect(self.run_query)
        self.session.filters.changed.connect(self._filter_map)
        self.browse = attach_browse(self)
        self._build_status_bar()
        self._build_menus()
        self._restore_layout()
        self.session.status_changed.connect(self.message.show_text)
        self.session.library_changed.connect(self.library_panel.show_summary)
        self.session.model_changed.connect(lambda: self.model_button.setText(self.session.model_text()))
        self.query.history_changed.connect(self._show_history)
        self._show_history()
        self.say("Starting…")
        QTimer.singleShot(0, self._start)

    # -- the session, as the tests and the views read it ---------------------------------------

    @property
    def summary(self) -> LibrarySummary | None:
        return self.session.summary

    @property
    def outcome(self) -> SearchOutcome | None:
        return self.session.outcome

    @property
    def model_ready(self) -> bool:
        return self._started and self.session.model_ready

    # -- construction -----------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.message = StatusMessage()
        bar.addWidget(self.message, 1)
        self.busy = QProgressBar()
        self.busy.setMaximumWidth(220)
        self.busy.setTextVisible(True)
        self.busy.hide()
        bar.addPermanentWidget(self.busy)
        self.model_button = QPushButton("No library open")
        self.model_button.setFlat(True)
        self.model_button.setToolTip("The library's model, the device and the precision; click for settings (Ctrl+,)")
        self.model_button.clicked.connect(self.open_settings)
        bar.addPermanentWidget(self.model_button)

    def _action(self, menu, text: str, handler, shortcut: str | QKeySequence | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(handler)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file = menus.addMenu("&File")
        self._action(
            file, "&New library…", self.new_library, QKeySequence.StandardKey.New, "Create a library in an empty folder"
        )
        self._action(file, "&Open library…", self.open_library_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self._action(
            file,
            "Open the &demo gallery",
            self.open_demo_gallery,
            None,
            "Generate the synthetic demo world and index it",
        )
        file.addSeparator()
        self._action(file, "&Add folder…", self.add_folder, "Ctrl+Shift+A")
        self._action(file, "&Re-scan folders", self.rescan, "F5")
        self._action(file, "&Import embeddings…", self.import_embeddings, None, "Add Parquet files of embeddings")
        self._action(file, "&Export results…", self.export_results, "Ctrl+E", "Save the current results as CSV or JSON")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        query = menus.addMenu("&Query")
        self._action(query, "Type a &text", lambda: self.composer.panes[Modality.TEXT].text.setFocus(), "Ctrl+L")
        self._action(query, "&Paste a picture", self.paste_picture, QKeySequence.StandardKey.Paste)
        self.back_action = self._action(query, "&Back", self.query.undo, QKeySequence.StandardKey.Undo)
        self.back_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Undo), QKeySequence("Alt+Left")])
        self.back_action.setStatusTip("The query before the last change (Ctrl+Z)")
        self.forward_action = self._action(query, "&Forward", self.query.redo, "Ctrl+Shift+Z")
        self.forward_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Alt+Right")])
        query.addSeparator()
        self._action(query, "Remove the &last term", self.query.remove_last, "Ctrl+Backspace")
        self._action(query, "&Clear the query", self.query.clear, "Ctrl+Shift+Backspace")
        self._action(query, "&Save query…", self.save_query, "Ctrl+S", "Keep the query and filters with the library")
        self.saved_menu = SavedQueriesMenu(self.session, self)
        self.saved_menu.delete_requested.connect(self.delete_query)
        self.saved_menu.rename_requested.connect(self.rename_query)
        self.saved_menu.undo_delete_requested.connect(self.undo_delete_query)
        query.addMenu(self.saved_menu)
        self._action(query, "Cancel indexing or &download", self.cancel_work, "Esc")
        view = menus.addMenu("&View")
        view.addAction(self.library_dock.toggleViewAction())
        view.addAction(self.side_dock.toggleViewAction())
        self._action(view, "Show the &map", lambda: self._show_tab(0), "Ctrl+1")
        self._action(view, "Show &zero-shot labels", lambda: self._show_tab(1), "Ctrl+2")
        settings = menus.addMenu("&Settings")
        self._action(settings, "&Model, device and indexing…", self.open_settings, "Ctrl+,")
        help_menu = menus.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", lambda: ShortcutsDialog(self.menuBar(), self).exec(), "F1")
        self._action(help_menu, "&Supported files", self.show_formats)
        self._action(help_menu, "&About BindScope", self.show_about)
        self._refresh_recent()

    def save_query(self) -> None:
        name, workspace = ask_query_name(self, self.session), self.workspace
        if name and workspace is not None:
            record = self.session.saved.current()
            self._run(
                "save-query",
                lambda job: workspace.save_query(name, record),
                "",
                self.session.saved.load,
                self._failed("save the query"),
            )

    def delete_query(self, name: str) -> None:
        workspace = self.workspace
        if workspace is not None:
            self._run(
                f"delete-query:{name}",
                lambda job: workspace.forget_query(name),
                "",
                lambda remaining: self.session.saved.forgotten(name, remaining),
                self._failed("delete the saved query"),
            )

    def rename_query(self, old: str, new: str) -> None:
        workspace = self.workspace
        if workspace is not None:
            self._run(
                f"rename-query:{old}",
                lambda job: workspace.rename_query(old, new),
                "",
                self.session.saved.load,
                self._failed("rename the saved query"),
            )

    def undo_delete_query(self) -> None:
        workspace, deleted = self.workspace, self.session.saved.take_deleted()
        if workspace is not None and deleted is not None:
            name, record = deleted
            self._run(
                f"undelete-query:{name}",
                lambda job: workspace.save_query(name, record),
                "",
                self.session.saved.load,
                self._failed("bring the saved query back"),
            )

    def _show_tab(self, index: int) -> None:
        self.side_dock.show()
        self.side_tabs.setCurrentIndex(index)

    def _restore_layout(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("windowState")
        if state is not None:
            self.restoreState(state)
        splitter = self.settings.value("splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def closeEvent(self, event) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("windowState", self.saveState())
        self.settings.setValue("splitter", self.splitter.saveState())
        workspace = self.workspace
        self.jobs.shutdown(final=lambda: workspace and workspace.close())
        self.previews.shutdown()
        super().closeEvent(event)

    # -- start-up and the library -------------------------------------------------------------

    def _start(self) -> None:
        last = self.settings.value("library")
        if self._library_request:  # asked for by name: opened, or created when new
            self.open_library(self._library_request)
        elif last and Path(last).is_dir():
            self.open_library(last)
        elif default_library().is_dir():  # made by the command line, which uses it when no --library is given
            self.open_library(default_library())
        else:
            self._started = True
            if self._files_waiting:
                self._files_waiting.clear()
                self.say("Open a library to search it (File ▸ Open library).")
            self.results.show_message(
                "Create a library (File ▸ New library) or open one — or start with the demo gallery: "
                "a synthetic world of dogs, trains, rain and bells seen in every modality.",
                "Open the demo gallery",
                self.open_demo_gallery,
            )
            self.say("Ready.")
            self.ready.emit()

    def open_library(self, folder: str | Path, then=None) -> None:
        """Open (or create) a library with the model it keeps; the one open before stays if this fails."""
        folder = str(folder)
        previous = self.workspace
        self.session.begin_opening(folder)
        for slot in ("index", "map", "reembed", "import"):
            self.jobs.cancel(slot)

        def run(job: Job):
            workspace = Workspace.open(folder, create=True, default_model=self.new_library_model, device=self.device)
            return workspace, workspace.summary()

        def done(result) -> None:
            self.workspace, summary = result
            self._started = True
            if previous is not None:
                self._run("close", lambda job: previous.close())
            self.settings.setValue("library", folder)
            recent = [folder] + [f for f in self._recent() if f != folder]
            self.settings.setValue("recent", recent[:MAX_RECENT])
            self._refresh_recent()
            self.setWindowTitle(f"BindScope — {Path(folder).name}")
            self.map_data = None
            self.map_view.set_data(None)
            self.session.opened(summary)
            self.zero_shot.set_labels(summary.labels)
            self.run_query()
            self.refresh_map()
            self.load_model(then)
            waiting, self._files_waiting = self._files_waiting, []
            for paths, pane in waiting:
                self.describe_files(paths, pane)

        def failed(message: str) -> None:
            self._started = True
            self._files_waiting.clear()
            self.session.open_failed(message)
            self.ready.emit()

        self._run("library", run, f"Opening {Path(folder).name}", done, failed)

    def load_model(self, then=None) -> None:
        """Load the library's model in the background (a missing one is said, not an error)."""
        self.session.model_loading()
        workspace = self.workspace

        def run(job: Job):
            try:
                return workspace.loaded_model("the app").describe()
            except ModelMissing as missing:
                return missing

        def done(result) -> None:
            if isinstance(result, ModelMissing):
                self.session.model_missing(str(result))
                self.refresh_summary()  # the library panel's banner offers Download/Locate
            else:
                self.session.model_loaded(result)
                if then is not None:
                    then()
                elif self.summary is not None and self.summary.pending:
                    self.index(None, scan=False)
            self.ready.emit()

        def failed(message: str) -> None:
            self.session.model_failed(message)
            self.ready.emit()

        self._run("model", run, "Loading the model", done, failed, Lane.MODEL)

    def show_summary(self, summary: LibrarySummary) -> None:
        self.session.show_summary(summary)

    def refresh_summary(self) -> None:
        workspace = self.workspace
        self._run("summary", lambda job: workspace.summary(), "", self.show_summary, self._failed("read the library"))

    def fetch_failed(self, offset: int, limit: int, deliver) -> None:
        """A page of failed files for the library panel's table, fetched off the GUI thread."""
        workspace = self.workspace
        if workspace is not None:
            self._run(f"failed-{offset}", lambda job: workspace.failed(offset, limit), "", lambda i: deliver(offset, i))

    def new_library(self) -> None:
        folder = self.folders.ask_folder(self, "library", "Choose an empty folder for the new library")
        if folder:
            self.open_library(folder)

    def open_library_dialog(self) -> None:
        folder = self.folders.ask_folder(self, "library", "Open a BindScope library folder")
        if folder:
            self.open_library(folder)

    def _recent(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self._recent():
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_library(f))
        self.recent_menu.setEnabled(bool(self._recent()))

    # -- indexing -------------------------------------------------------------------------------

    def add_folder(self) -> None:
        if self.summary is None:
            self.say("Open or create a library first (File menu).")
            return
        folder = self.folders.ask_folder(self, "add", "Add a folder to the library")
        if folder:
            self.index(folder)

    def rescan(self) -> None:
        if self.summary is not None:
            self.index(None)

    def index(self, folder: str | None, scan: bool = True) -> Job:
        """Scan a new folder (or all folders), then embed everything pending, in the background.

        Folders asked for while an indexing job waits are collected (on the GUI thread), so the job that
        replaces the waiting one scans them all; the job takes its own copy."""
        waiting = self._folders_to_index if self.jobs.waiting("index") is not None else []
        folders = [*waiting, folder] if folder is not None else list(waiting)
        self._folders_to_index = folders
        workspace, reduced_jpeg = self.workspace, self.reduced_jpeg

        def run(job: Job):
            progress, cancelled = job.report, job.cancelled
            if not scan and not folders:
                return None, workspace.embed(progress, cancelled, reduced_jpeg=reduced_jpeg)
            report = workspace.index(folders or None, progress, cancelled, reduced_jpeg=reduced_jpeg)
            return report.scan, report.embed

        def done(result) -> None:
            scanned, embedded = result
            self.library_panel.hide_progress()
            parts = []
            if scanned is not None:
                parts.append(f"{scanned.added} new, {scanned.changed} changed, {scanned.missing} now offline")
            if embedded is not None:
                parts.append(
                    f"{embedded.embedded} embedded, {embedded.failed} failed"
                    + (f", {embedded.segments:,} moments" if embedded.segments else "")
                    + (f", {embedded.offline} offline" if embedded.offline else "")
                    + (" (cancelled)" if embedded.cancelled else "")
                )
            self.say("Indexing: " + "; ".join(parts))
            self._after_change()

        def failed(message: str) -> None:
            self.library_panel.hide_progress()
            self.session.fail(f"Indexing stopped: {message}")
            self.refresh_summary()

        job = self._run("index", run, "Indexing", done, failed, Lane.LONG)
        job.progress.connect(
            lambda p: self.library_panel.show_progress(
                p.phase.replace("moments", "Moments of file") if p.phase.startswith("moments") else "Indexing",
                p.done,
                p.total,
            )
        )
        return job

    def _after_change(self) -> None:
        """The library changed: show its new state, map and results."""
        self.refresh_summary()
        self.refresh_map()
        self.run_query()

    def cancel_work(self) -> None:
        """Stop indexing, an import or a re-embed (finished batches are kept), or a download (it resumes)."""
        for slot in ("index", "import", "reembed", "download"):
            self.jobs.cancel(slot)

    def import_embeddings(self) -> None:
        if self.summary is None:
            self.say("Open or create a library first (File menu).")
            return
        path = self.folders.ask_open(self, "import", "Import embeddings", "Parquet (*.parquet)")
        if not path:
            return
        workspace = self.workspace

        def done(report) -> None:
            self.library_panel.hide_progress()
            self.say(f"Imported {report.rows:,} rows: {report.changed:,} items added or updated")
            self._after_change()

        def failed(message: str) -> None:
            self.library_panel.hide_progress()
            self.say(f"Import stopped: {message}")

        job = self._run(
            "import",
            lambda job: workspace.import_embeddings(path, job.report, job.cancelled),
            "Importing",
            done,
            failed,
            Lane.LONG,
        )
        job.progress.connect(lambda p: self.library_panel.show_progress("Importing", p.done, p.total))

    def remove_root(self, root_id: int) -> None:
        answer = QMessageBox.question(
            self,
            "Remove folder",
            "Remove this folder and its items from the library? The files themselves are not touched.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            workspace = self.workspace
            self._run(
                f"remove-root-{root_id}",
                lambda job: workspace.remove_root(root_id),
                "",
                lambda _: self._after_change(),
                self._failed("remove the folder"),
            )

    def move_root(self, root_id: int) -> None:
        """A folder was moved (or a drive mounted elsewhere): point its items at the new place, keeping embeddings."""
        old = next((r.path for r in self.summary.roots if r.id == root_id), None) if self.summary else None
        if old is None:
            return
        new = self.folders.ask_folder(self, "add", f"Where is {Path(old).name} now?")
        if not new:
            return
        workspace = self.workspace

        def done(moved) -> None:
            self.say(f"Moved {moved[1]:,} items to {new}; nothing is encoded again")
            self._after_change()

        self._run("move-root", lambda job: workspace.move_root(old, new), "", done, self._failed("move it"))

    def forget_missing(self) -> None:
        answer = QMessageBox.question(
            self,
            "Forget deleted files",
            "Remove the items whose files are gone from folders that are online? (Items of folders that are not "
            "reachable now are kept.)",
        )
        if answer == QMessageBox.StandardButton.Yes:
            workspace = self.workspace
            self._run(
                "forget",
                lambda job: workspace.forget_missing(),
                "",
                lambda n: (self.say(f"Forgot {n:,} items whose files were deleted"), self._after_change()),
                self._failed("forget them"),
            )

    def save_labels(self, labels: list[str]) -> None:
        if self.summary is None:
            return
        workspace = self.workspace
        self._run("labels", lambda job: workspace.set_labels(labels), "", lambda *_: self._labels_saved())

    def _labels_saved(self) -> None:
        workspace = self.workspace
        self._run("embed-labels", lambda job: workspace.embed_labels(), "", lane=Lane.LONG)
        self.run_query()

    def open_demo_gallery(self) -> None:
        """Write the demo world into the user data folder, make it a library and index it."""
        gallery = demo_gallery_dir()

        def run(job: Job):
            from engine.workspace import demo_gallery

            if not (gallery / "files" / "manifest.csv").is_file():
                demo_gallery(gallery / "files", per_concept=8)
            return str(gallery)

        def then() -> None:
            self.zero_shot.set_labels(list(DEMO_LABELS))
            self.save_labels(list(DEMO_LABELS))
            self.index(str(gallery / "files"))

        def done(folder: str) -> None:
            self.open_library(Path(folder) / "library", then=then)

        self._run("demo", run, "Writing the demo gallery", done, self._failed("write the demo gallery"), Lane.LONG)

    # -- queries ----------------------------------------------------------------------------

    def _search_args(self) -> tuple[int, list[Modality], list[str]]:
        return self.results.count.value(), self.results.modalities(), self.zero_shot.labels()

    def describe_files(self, paths: list[str], pane: Modality | None) -> None:
        """What offered files are and whether they read, decided on the engine thread; then they become terms."""
        workspace = self.workspace
        if workspace is None and not self._started:
            self._files_waiting.append((paths, pane))
            return
        if workspace is None:
            self.say("Open a library to search it (File ▸ Open library).")
            return
        self._run(
            "describe",
            lambda job: [readable(workspace, file) for file in workspace.describe_files(paths, pane)],
            "",
            lambda described: self.composer.add_described(described, pane),
            self._failed("read the offered files"),
        )

    def run_query(self) -> None:
        terms = [t for entry in self.query.terms for t in entry.engine_terms()]
        if not terms:
            self.map_view.set_query_point(None)
            self.zero_shot.show_probabilities([])
            self.session.searched(None, "")
            if self.summary is not None:
                self.results.show_message(
                    "Drop a file on a pane above, or type a text, to find its nearest neighbours in the library."
                )
            return
        if self.summary is None:
            self.results.show_message("Open a library to search it (File ▸ Open library).")
            return
        self._search(terms, "Results")

    def _search(self, terms: list[Term], title: str) -> None:
        k, modalities, labels = self._search_args()
        workspace = self.workspace
        moments = self.session.moments

        def done(outcome: SearchOutcome) -> None:
            self.session.searched(outcome, title)
            filtered = self.session.filters.active
            none = f"No items pass the filters ({self.session.filters.describe()})" if filtered else ""
            if moments:
                hits = self.session.moment_hits()
                cards = [(item, m.score) for item, m in hits]
                self.results.set_cards(
                    cards,
                    "Moments" if title == "Results" else f"Moments: {title}",
                    outcome.offline,
                    [(m.start, m.end) for _, m in hits],
                )
                if not hits:
                    self.results.show_message(
                        none
                        or "No moments match: only audio, video and IMU files longer than the model's window have "
                        "them (they are embedded after the whole files)."
                    )
            else:
                cards = outcome.cards()
                best = [outcome.best_moments(item.id) for item, _ in cards]
                spans = [(b[0].start, b[0].end) if b else None for b in best]
                self.results.set_cards(cards, title, outcome.offline, spans, best=True, tops=best)
                if not cards:
                    self.results.show_message(none or "No embedded items match these modalities yet.")
            self.map_view.set_query_point(outcome.map_point)
            self.zero_shot.show_probabilities(outcome.probabilities)

        def failed(message: str) -> None:
            self.results.show_message(f"The query could not run: {message}")
            self.session.fail(message)

        request = SearchRequest(tuple(terms), k, tuple(modalities), tuple(labels), self.session.filters.value, moments)
        job = SearchJob(workspace, request)
        job.returned.connect(done)
        job.errored.connect(failed)
        self.jobs.submit(job)

    def neighbours_of(self, item_id: int) -> None:
        """A click on the map: the clicked item becomes the query (one step back undoes it)."""
        workspace = self.workspace
        if workspace is not None:
            self._run("clicked", lambda job: workspace.item(item_id), "", self.use_as_query)

    def search_selection(self, ids: list[int]) -> None:
        """A map selection becomes one term, "Selection of N items", in the pane of its commonest modality."""
        if ids:
            term = selection_term(ids, self._commonest_modality(ids))
            self.query.replace(term)
            self.say(f"{term.name}: {term.source}")

    def _commonest_modality(self, ids: list[int]) -> Modality:
        projection = self.map_data.projection if self.map_data is not None else None
        if projection is None:
            return Modality.VISION
        chosen = np.isin(projection.ids, np.asarray(ids))
        values, counts = np.unique(projection.modalities[chosen], return_counts=True)
        return Modality.parse(str(values[int(np.argmax(counts))])) if len(values) else Modality.VISION

    def hover_item(self, item_id: int) -> None:
        workspace = self.workspace
        if workspace is not None:
            self._run("hover", lambda job: workspace.item(item_id), "", self.map_view.show_hover)

    def moment_scores(self, item, preview) -> None:
        """The last search's score along a long recording, for the large preview's strip (none before a search)."""
        workspace, outcome = self.workspace, self.session.outcome
        if workspace is None or outcome is None:
            preview.show_scores(item.id, [])
            return
        vector = outcome.results.vector
        self._run(
            "moment-scores",
            lambda job: workspace.moment_scores(item.id, vector),
            "",
            lambda windows: preview.show_scores(item.id, windows),
            self._failed(f"score the moments of {item.name}"),
        )

    def use_as_query(self, item) -> None:
        if item is not None:
            self.query.replace(item_term(item.id, item.modality, item.name, item.source))

    def offer_query(self, entry: str) -> None:
        """A query given by name (``--query``): a library item's id or path, else a file, else a text."""
        workspace = self.workspace
        key = int(entry) if entry.strip().isdigit() else entry

        def found(item) -> None:
            if item is not None:
                self.add_to_query(item)
            elif Path(entry).exists():
                self.composer.add_files([entry])
            else:
                self.composer.add_text(entry)

        if workspace is None:
            found(None)
        else:
            self._run(f"offer-{entry}", lambda job: workspace.item(key), "", found)

    def add_to_query(self, item) -> None:
        self.composer.add_item(item.id, item.modality, item.name, item.source)

    def show_on_map(self, item) -> None:
        self._show_tab(0)
        self.map_view.show_item(item.id)

    def _show_history(self) -> None:
        self.back_action.setEnabled(self.query.can_undo())
        self.forward_action.setEnabled(self.query.can_redo())

    # -- the map ----------------------------------------------------------------------------

    def refresh_map(self) -> None:
        """Recompute (or load, or update) the map, coloured as the map's colour menu says."""
        if self.summary is None:
            return
        colouring = self.map_view.colouring.currentData()
        clusters = None if colouring == "modality" else colouring
        workspace = self.workspace

        def run(job: Job):
            return workspace.map(job.deliver, clusters, job.cancelled, apart=True)

        job = self._run("map", run, "Computing the map", self._show_map, self._failed("compute the map"), Lane.LONG)
        job.partial.connect(self._show_map)

    def _show_map(self, data: MapData | None) -> None:
        self.map_data = data
        if data is None or not self.session.filters.value.narrows:
            self.map_view.set_data(data)
        self._filter_map()
        self.map_view.set_query_point(None)
        if self.outcome is not None and data is not None and data.projection.method != "pca":
            vector, workspace = self.outcome.results.vector, self.workspace
            self._run("place", lambda job: workspace.place(vector), "", self.map_view.set_query_point)

    def _filter_map(self, *_) -> None:
        """The map shows the points the filters let through (a job of its own slot: the newest filter wins)."""
        data, chosen, workspace = self.map_data, self.session.filters.value, self.workspace
        if data is not None and workspace is not None and (chosen.narrows or self.map_view.data is not data):
            shown = (lambda job: data.only(workspace.map_mask(chosen, data))) if chosen.narrows else (lambda job: data)
            self._run("map-filter", shown, "", self.map_view.set_data)

    # -- files, clipboard, sound ------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.composer.add_files(paths)
            event.acceptProposedAction()

    def paste_picture(self) -> None:
        focus = QGuiApplication.focusObject()
        if hasattr(focus, "paste") and focus is not self:
            focus.paste()
            return
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        if mime.hasUrls():
            self.composer.add_files([u.toLocalFile() for u in mime.urls() if u.isLocalFile()])
        elif mime.hasImage():
            image = clipboard.image()
            target = Path(tempfile.mkdtemp(prefix="bindscope-paste-")) / "pasted.png"

            def save(job: Job):
                if not image.save(str(target)):
                    raise OSError(f"cannot write {target}")
                return str(target)

            self._serial += 1
            self._run(
                f"paste-{self._serial}",
                save,
                "",
                lambda path: self.composer.add_files([path], Modality.VISION),
                self._failed("paste the picture"),
            )
        else:
            self.say("The clipboard holds no picture or file.")

    def play(self, card, seconds: float = 0.0) -> None:
        """A sound card's ▶: the file from ``seconds`` (its moment's start, or one picked from its moments menu)."""
        if self._player is None:
            try:
                self._player = media_player(self)
            except ImportError as error:
                self.say(f"Sound playback is unavailable on this system ({error}); opening the file instead.")
                QDesktopServices.openUrl(QUrl.fromLocalFile(card.item.path))
                return
        play_from(self._player, card.item.path, seconds)
        self.say(f"Playing {card.item.name}" + (f" from {clock(seconds)}" if seconds else ""))

    def export_results(self) -> None:
        """The results as shown: after a moments search, its windows (each row a file's span), else the file cards."""
        hits = self.session.moment_hits()
        if hits:
            cards, spans = [(item, m.score) for item, m in hits], [(m.start, m.end) for _, m in hits]
            self.export_cards(cards, self.query.terms, "Export moments", "moments.csv", "moments", "export", spans)
            return
        if self.outcome is None or not self.outcome.cards():
            self.say("There are no results to export yet.")
            return
        self.export_cards(self.outcome.cards(), self.query.terms, "Export results", "results.csv", "results", "export")

    def export_cards(
        self, cards: list, terms: tuple, title: str, suggested: str, noun: str, slot: str, spans: list | None = None
    ) -> None:
        """Save (item, score) cards as CSV or JSON with where they came from (``terms``: the query that scored them,
        if any; ``spans``: moments' windows, one a card); the file is written off the GUI thread."""
        path = self.folders.ask_save(self, "export", title, suggested, "CSV (*.csv);;JSON (*.json)")
        if not path:
            return
        library = self.settings.value("library", "")
        when = datetime.now().astimezone()
        described = self.session.filters.describe(full=True)
        record = export_record(cards, terms, self.session.model_text(), library, when, spans, described)
        self._run(
            slot,
            lambda job: write_export(path, record),
            "",
            lambda written: self.say(f"Exported {len(cards):,} {noun} to {written}"),
            self._failed(f"export the {noun}"),
        )

    # -- settings, the model and help ---------------------------------------------------------

    def open_settings(self) -> None:
        from app.gui.settings_dialog import SettingsDialog
        from engine.workspace import models

        state = self.summary.model if self.summary is not None else None
        dialog = SettingsDialog(
            models(), state, self.new_library_model, self.device, self, reduced_jpeg=self.reduced_jpeg
        )
        if not dialog.exec():
            return
        choice, device = dialog.choice()
        self.reduced_jpeg = dialog.reduced_jpeg.isChecked()
        self.settings.setValue("reduced_jpeg", self.reduced_jpeg)
        if choice != self.new_library_model:
            self.new_library_model = choice
            self.settings.setValue("model", choice)
            workspace = self.workspace
            if workspace is not None and self.summary is not None and self.summary.model.ref is None:
                # nothing embedded yet: the open library takes the new choice now, not when reopened
                self._run("choose-model", lambda job: workspace.prefer_model(choice), "", lambda _: self.load_model())
        if device != self.device:
            self.device = device
            self.settings.setValue("device", device)
            workspace = self.workspace
            if workspace is not None:
                self._run("device", lambda job: workspace.use_device(device), "", lambda _: self.load_model())
        action = dialog.action or ()
        if action[:1] == ("download",):
            self.download_library_model()
        elif action[:1] == ("locate",):
            self._locate(action[1])
        elif action[:1] == ("reembed",):
            self.plan_reembed(action[1])

    def download_library_model(self) -> None:
        if self.summary is None or self.summary.model.ref is None:
            return
        ref = self.summary.model.ref
        answer = QMessageBox.question(
            self,
            f"Download {ref.title}",
            f"Download {ref.title} now? Esc stops the download; it resumes where it stopped next time.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return

        def run(job: Job):
            return download_model(ref.name, job.report, job.cancelled)

        job = self._run(
            "download",
            run,
            f"Downloading {ref.title}",
            lambda _: (self.refresh_summary(), self.load_model()),
            self._failed("download the model"),
            Lane.MODEL,
        )
        job.progress.connect(self._show_download)

    def locate_library_model(self) -> None:
        from app.gui.settings_dialog import choose_checkpoint

        path = choose_checkpoint(self, "Where is this library's checkpoint?")
        if path:
            self._locate(path)

    def _locate(self, path: str) -> None:
        """Use a checkpoint found elsewhere; it must be the very model the library was embedded with."""
        workspace = self.workspace

        def run(job: Job):
            return workspace.locate_model(path).describe()

        def done(description: str) -> None:
            self.session.model_loaded(description)
            self.say(f"Found the library's model: {description}")
            self.refresh_summary()

        self._run("model", run, "Checking the checkpoint", done, self._failed("use that checkpoint"), Lane.MODEL)

    def plan_reembed(self, name: str) -> None:
        """Say what re-embedding with ``name`` means (items, time) and, if confirmed, do it in the background."""
        workspace = self.workspace

        def confirm(plan) -> None:
            hours = plan.seconds / 3600
            answer = QMessageBox.question(
                self,
                f"Re-embed with {plan.target.title}",
                f"Embed {plan.items:,} items with {plan.target.title}: about "
                + (f"{hours:.1f} hours" if hours >= 1 else f"{plan.seconds / 60:.0f} minutes")
                + " here."
                + (f" {plan.offline:,} items are offline; the switch waits for them." if plan.offline else "")
                + "\n\nSearches keep using the current model until the new set is complete. Cancel at any time "
                "(Esc); the work done is kept and resumes next time.",
            )
            if answer == QMessageBox.StandardButton.Yes:
                self.reembed(name)

        self._run(
            "reembed-plan",
            lambda job: workspace.plan_reembed(name),
            "Timing the new model",
            confirm,
            self._failed("plan the re-embedding"),
            Lane.LONG,
        )

    def reembed(self, name: str) -> None:
        workspace = self.workspace

        def run(job: Job):
            return workspace.reembed(name, job.report, job.cancelled)

        def done(result) -> None:
            report, switched = result
            self.library_panel.hide_progress()
            state = (
                "the library now uses the new model" if switched else "not switched yet (cancelled or offline items)"
            )
            self.say(f"Re-embedding: {report.embedded:,} embedded, {report.failed:,} failed; {state}")
            if switched:
                self.load_model()
            self._after_change()

        def failed(message: str) -> None:
            self.library_panel.hide_progress()
            self.session.fail(f"Re-embedding stopped: {message}")

        job = self._run("reembed", run, "Re-embedding", done, failed, Lane.LONG)
        job.progress.connect(lambda p: self.library_panel.show_progress("Re-embedding", p.done, p.total))

    def show_formats(self) -> None:
        QMessageBox.information(self, "Supported files", formats_help())

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About BindScope",
            "<b>BindScope</b><br>Explore ImageBind's joint embedding space: images, text, audio, depth, thermal and IMU in one space.",
        )

    # -- jobs and status ---------------------------------------------------------------------

    def _run(self, slot: str, run, label: str = "", done=None, failed=None, lane: Lane = Lane.QUICK) -> Job:
        """Submit ``run`` as a job in ``slot`` and connect its result and error to the window."""
        job = Job(slot, run, label, lane)
        if done is not None:
            job.returned.connect(done)
        if failed is not None:
            job.errored.connect(failed)
        return self.jobs.submit(job)

    def say(self, text: str) -> None:
        self.session.say(text)

    def _failed(self, what: str):
        return lambda message: self.session.fail(f"Could not {what}: {message}")

    def _show_activity(self) -> None:
        """The busy bar names the long work running now, and hides when there is none."""
        labels = [job.label for job in self.jobs.running() if job.label and job.lane is not Lane.QUICK]
        labels += [job.label for job in self.jobs.running() if job.label and job.lane is Lane.QUICK]
        if not labels:
            self.busy.hide()
            return
        if self.busy.maximum() == 0 or not self.busy.isVisible():
            self.busy.setRange(0, 0)
            self.busy.setFormat(" · ".join(labels) + "…")
        self.busy.show()

    def _show_download(self, progress: Progress) -> None:
        if progress.total:
            self.busy.setRange(0, 1000)
            self.busy.setValue(round(1000 * progress.done / progress.total))
            self.busy.setFormat(f"Downloading {progress.done / 1e9:.2f} / {progress.total / 1e9:.2f} GB")
