"""BindScope's main window: library sidebar, query composer, results grid, map and zero-shot panel.

The window is a view. Every engine call (model loading, scanning, encoding, searching,
mapping, SQLite writes) is a job on the engine thread; the window submits jobs and shows
what comes back.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QStandardPaths, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QWidget,
)

from app.gui.composer import QueryComposer
from app.gui.library_panel import LibraryPanel
from app.gui.map_view import MapView
from app.gui.previews import PreviewLoader
from app.gui.results import ResultsPanel, reveal_in_folder
from app.gui.worker import EngineThread, Job
from app.gui.zero_shot import ZeroShotPanel
from engine.demo.concepts import CONCEPT_NAMES
from engine.modality import Modality
from engine.preprocess.detect import formats_help

if TYPE_CHECKING:
    from app.gui.session import LibrarySummary, MapData, SearchOutcome, Session

ORGANISATION, APPLICATION = "BindScope", "BindScope"
MAX_RECENT = 8


def demo_gallery_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or tempfile.gettempdir()) / "demo"


class MainWindow(QMainWindow):
    ready = Signal()  # the model is loaded (or known missing) and the library (if any) is shown

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
        self.model_choice = model if model is not None else self.settings.value("model", None)
        self.device = device or self.settings.value("device", "auto")
        self.session: Session | None = None
        self.summary: LibrarySummary | None = None
        self.outcome: SearchOutcome | None = None
        self.map_data: MapData | None = None
        self.model_ready = False
        self.model_description: str | None = None
        self._folders_to_index: list[str] = []
        self._serial = 0
        self._player = None
        self.setWindowTitle("BindScope")
        self.setAcceptDrops(True)
        self.resize(1500, 940)

        self.engine = EngineThread(self)
        self.engine.started.connect(self._job_started)
        self.engine.progress.connect(self._job_progress)
        self.engine.partial.connect(lambda key, value: key == "map" and self._show_map(value))
        self.engine.idle.connect(self._jobs_idle)
        self.previews = PreviewLoader(parent=self)

        self.composer = QueryComposer(self.previews)
        self.composer.changed.connect(lambda *_: self.run_query())
        self.composer.message.connect(self.say)
        self.results = ResultsPanel(self.previews)
        self.results.filtersChanged.connect(self.run_query)
        self.results.useAsQuery.connect(self.use_as_query)
        self.results.addToQuery.connect(self.add_to_query)
        self.results.showOnMap.connect(self.show_on_map)
        self.results.play.connect(self.play)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.composer)
        splitter.addWidget(self.results)
        splitter.setSizes([330, 610])
        self.splitter = splitter
        self.setCentralWidget(splitter)

        self.library_panel = LibraryPanel()
        self.library_panel.addFolder.connect(self.add_folder)
        self.library_panel.rescan.connect(self.rescan)
        self.library_panel.cancel.connect(self.cancel_work)
        self.library_panel.removeRoot.connect(self.remove_root)
        self.library_panel.revealFailed.connect(lambda path: path and reveal_in_folder(path))
        self.library_dock = self._dock("Library", self.library_panel, Qt.DockWidgetArea.LeftDockWidgetArea)

        self.map_view = MapView(self.previews)
        self.map_view.itemClicked.connect(self.neighbours_of)
        self.map_view.filterToSelection.connect(self.show_selection)
        self.map_view.searchSelection.connect(self.search_selection)
        self.map_view.recolour.connect(lambda mode: self.refresh_map())
        self.zero_shot = ZeroShotPanel()
        self.zero_shot.labelsEdited.connect(self.save_labels)
        self.side_tabs = QTabWidget()
        self.side_tabs.addTab(self.map_view, "Map")
        self.side_tabs.addTab(self.zero_shot, "Zero-shot")
        self.side_dock = self._dock("Map and labels", self.side_tabs, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.library_dock, self.side_dock], [250, 470], Qt.Orientation.Horizontal)

        self._build_status_bar()
        self._build_menus()
        self._restore_layout()
        self.say("Starting…")
        QTimer.singleShot(0, self._start)

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
        self.message = QLabel()
        bar.addWidget(self.message, 1)
        self.busy = QProgressBar()
        self.busy.setMaximumWidth(220)
        self.busy.setTextVisible(True)
        self.busy.hide()
        bar.addPermanentWidget(self.busy)
        self.model_button = QPushButton("Loading model…")
        self.model_button.setFlat(True)
        self.model_button.setToolTip("The active model, device and precision; click to change (Ctrl+,)")
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
        self._action(file, "&Export results…", self.export_results, "Ctrl+E", "Save the current results as CSV or JSON")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        query = menus.addMenu("&Query")
        self._action(query, "Type a &text", lambda: self.composer.panes[Modality.TEXT].text.setFocus(), "Ctrl+L")
        self._action(query, "&Paste a picture", self.paste_picture, QKeySequence.StandardKey.Paste)
        self._action(query, "Remove the &last term", self.composer.remove_last, "Ctrl+Backspace")
        self._action(query, "&Clear the query", self.composer.clear, "Ctrl+Shift+Backspace")
        self._action(query, "Cancel indexing or &download", self.cancel_work, "Esc")
        view = menus.addMenu("&View")
        view.addAction(self.library_dock.toggleViewAction())
        view.addAction(self.side_dock.toggleViewAction())
        self._action(view, "Show the &map", lambda: self._show_tab(0), "Ctrl+1")
        self._action(view, "Show &zero-shot labels", lambda: self._show_tab(1), "Ctrl+2")
        settings = menus.addMenu("&Settings")
        self._action(settings, "&Model and device…", self.open_settings, "Ctrl+,")
        help_menu = menus.addMenu("&Help")
        self._action(help_menu, "&Supported files", self.show_formats)
        self._action(help_menu, "&About BindScope", self.show_about)
        self._refresh_recent()

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
        session = self.session
        self.engine.shutdown(final=lambda: session and session.close())
        self.previews.shutdown()
        super().closeEvent(event)

    # -- start-up ---------------------------------------------------------------------------

    def _start(self) -> None:
        def create(job: Job):
            from app.gui.session import Session

            self.session = Session()

        self.engine.submit("session", create)
        self.load_model(self.model_choice, self.device)
        last = self.settings.value("library")
        if self._library_request:  # asked for by name: opened, or created when new
            self.open_library(self._library_request)
        elif last and Path(last).is_dir():
            self.open_library(last)
        else:
            self.results.show_message(
                "Create a library (File ▸ New library) or open one — or start with the demo gallery: "
                "a synthetic world of dogs, trains, rain and bells seen in every modality.",
                "Open the demo gallery",
                self.open_demo_gallery,
            )

    def load_model(self, name: str | None, device: str) -> None:
        self.model_ready = False
        previous = self.model_button.text() if self.model_description else "No model — choose one…"
        self.model_button.setText("Loading model…")

        def run(job: Job):
            model = self.session.load_model(name, device, progress=self.engine.report(job), cancelled=job.cancelled)
            return model, self.session.needs_embedding()

        def done(result) -> None:
            model, needs_embedding = result
            self.model_ready = True
            if model is None:
                self.model_description = None
                self.model_button.setText("No model — choose one…")
                self.say(
                    "No model is available yet. Open Settings (Ctrl+,) to download ImageBind-huge or choose a checkpoint."
                )
            else:
                self.model_description = model.describe()
                self.model_button.setText(self.model_description)
                self.say(f"Model ready: {self.model_description}")
                if needs_embedding:
                    self.index(None)
            self.ready.emit()

        def failed(message: str) -> None:
            self.model_ready = True
            self.model_button.setText(previous)  # the model loaded before, if any, is still the one in use
            self.say(f"The model could not be loaded: {message}")
            self.ready.emit()

        self.engine.submit("model", run, "Loading the model", done, failed)

    # -- library ----------------------------------------------------------------------------

    def open_library(self, folder: str | Path, then=None) -> None:
        folder = str(folder)

        def done(summary: LibrarySummary) -> None:
            self.settings.setValue("library", folder)
            recent = [folder] + [f for f in self._recent() if f != folder]
            self.settings.setValue("recent", recent[:MAX_RECENT])
            self._refresh_recent()
            self.setWindowTitle(f"BindScope — {Path(folder).name}")
            self.show_summary(summary)
            self.zero_shot.set_labels(summary.labels)
            self.run_query()
            self.refresh_map()
            if then is not None:
                then()
            elif self.model_ready:
                self.index_pending()

        self.engine.submit(
            "library",
            lambda job: self.session.open_library(folder),
            "Opening the library",
            done,
            self._failed("open the library"),
        )

    def show_summary(self, summary: LibrarySummary) -> None:
        self.summary = summary
        self.library_panel.show_summary(summary)

    def _refresh_summary(self) -> None:
        self.engine.submit(
            "summary", lambda job: self.session.summary(), "", self.show_summary, self._failed("read the library")
        )

    def new_library(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose an empty folder for the new library")
        if folder:
            self.open_library(folder)

    def open_library_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a BindScope library folder")
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

    def add_folder(self) -> None:
        if self.summary is None:
            self.say("Open or create a library first (File menu).")
            return
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to the library")
        if folder:
            self.index(folder)

    def rescan(self) -> None:
        if self.summary is not None:
            self.index(None)

    def index(self, folder: str | None) -> None:
        """Scan a new folder (or all roots), then embed everything pending.

        Folders asked for while an indexing job waits are collected, so the job that replaces the
        waiting one scans them all.
        """
        if folder is not None:
            self._folders_to_index.append(folder)

        def run(job: Job):
            from engine.indexer import ScanReport

            progress = self.engine.report(job)
            folders, self._folders_to_index = self._folders_to_index, []
            scan = ScanReport()
            for path in folders or [None]:
                part = (
                    self.session.add_folder(path, progress, job.cancelled)
                    if path
                    else self.session.rescan(progress, job.cancelled)
                )
                scan.added, scan.changed, scan.removed = (
                    scan.added + part.added,
                    scan.changed + part.changed,
                    scan.removed + part.removed,
                )
                scan.warnings += part.warnings
            embedded = self.session.embed(progress, job.cancelled) if self.session.model is not None else None
            return scan, embedded, self.session.summary()

        def done(result) -> None:
            scan, embedded, summary = result
            self.show_summary(summary)
            self.library_panel.hide_progress()
            parts = [f"{scan.added} new, {scan.changed} changed, {scan.removed} removed"]
            if embedded is not None:
                parts.append(
                    f"{embedded.embedded} embedded, {embedded.failed} failed"
                    + (" (cancelled)" if embedded.cancelled else "")
                )
            else:
                parts.append("nothing embedded: no model is loaded")
            self.say("Indexing: " + "; ".join(parts))
            self.refresh_map()
            self.run_query()

        def failed(message: str) -> None:
            self.library_panel.hide_progress()
            self.say(f"Indexing stopped: {message}")
            self._refresh_summary()

        self.engine.submit("index", run, "Indexing", done, failed)

    def index_pending(self) -> None:
        """Embed what an earlier session left pending, or what the current model has not embedded yet."""
        self.engine.submit(
            "check", lambda job: self.session.needs_embedding(), "", lambda needed: needed and self.index(None)
        )

    def cancel_work(self) -> None:
        """Stop indexing (finished batches are kept) or a model download (it resumes next time)."""
        self.engine.cancel("index")
        self.engine.cancel("model")

    def remove_root(self, root_id: int) -> None:
        answer = QMessageBox.question(
            self,
            "Remove folder",
            "Remove this folder and its items from the library? The files themselves are not touched.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.engine.submit(
            f"remove-root-{root_id}",
            lambda job: self.session.remove_root(root_id),
            "",
            lambda s: (self.show_summary(s), self.refresh_map()),
        )

    def save_labels(self, labels: list[str]) -> None:
        if self.summary is not None:
            self.engine.submit("labels", lambda job: self.session.set_labels(labels), "", lambda *_: self.run_query())

    def open_demo_gallery(self) -> None:
        """Write the demo world into the user data folder, make it a library and index it."""
        gallery = demo_gallery_dir()

        def run(job: Job):
            from engine.demo.world import generate

            if not (gallery / "files" / "manifest.csv").is_file():
                generate(gallery / "files", per_concept=8)
            return str(gallery)

        def then() -> None:
            self.zero_shot.set_labels(list(CONCEPT_NAMES))
            self.save_labels(list(CONCEPT_NAMES))
            self.index(str(gallery / "files"))

        def done(folder: str) -> None:
            self.open_library(Path(folder) / "library", then=then)

        self.engine.submit("demo", run, "Writing the demo gallery", done, self._failed("write the demo gallery"))

    # -- queries ----------------------------------------------------------------------------

    def _search_args(self) -> tuple[int, list[Modality], list[str]]:
        return self.results.count.value(), self.results.modalities(), self.zero_shot.labels()

    def run_query(self) -> None:
        terms = [c.term for c in self.composer.terms()]
        if not terms:
            self.map_view.set_query_point(None)
            self.zero_shot.show_probabilities([])
            if self.summary is not None:
                self.results.show_message(
                    "Drop a file on a pane above, or type a text, to find its nearest neighbours in the library."
                )
            return
        if self.summary is None:
            self.results.show_message("Open a library to search it (File ▸ Open library).")
            return
        k, modalities, labels = self._search_args()
        self._search(lambda: self.session.search(terms, k, modalities, labels), "Results")

    def _search(self, call, title: str) -> None:
        def done(outcome: SearchOutcome) -> None:
            self.outcome = outcome
            self.results.set_cards(outcome.cards, title)
            if not outcome.cards:
                self.results.show_message("No embedded items match these modalities yet.")
            self.map_view.set_query_point(outcome.map_point)
            self.zero_shot.show_probabilities(outcome.probabilities)

        def failed(message: str) -> None:
            self.results.show_message(f"The query could not run: {message}")
            self.say(message)

        self.engine.submit("search", lambda job: call(), "Searching", done, failed)

    def neighbours_of(self, item_id: int) -> None:
        k, modalities, labels = self._search_args()
        self._search(
            lambda: self.session.neighbours(item_id, k, modalities, labels), "Neighbours of the selected point"
        )

    def search_selection(self, ids: list[int]) -> None:
        if ids:
            k, modalities, labels = self._search_args()
            self._search(
                lambda: self.session.mean_of(ids, k, modalities, labels), f"Nearest to the mean of {len(ids)} selected"
            )

    def show_selection(self, ids: list[int]) -> None:
        from app.gui.session import ResultCard

        chosen = ids[:200]

        def done(items) -> None:
            self.results.set_cards([ResultCard(item, math.nan) for item in items], f"Map selection of {len(ids)}")

        self.engine.submit("search", lambda job: self.session.items(chosen), "", done)

    def use_as_query(self, item) -> None:
        self.composer.clear()
        self.add_to_query(item)

    def add_to_query(self, item) -> None:
        self.composer.add_item(item.id, item.modality, item.name, item.source)

    def show_on_map(self, item) -> None:
        self._show_tab(0)
        self.map_view.show_item(item.id)

    # -- the map ----------------------------------------------------------------------------

    def refresh_map(self) -> None:
        """Recompute (or load) the map, coloured as the map's colour menu says."""
        colouring = self.map_view.colouring.currentData()
        clusters = None if colouring == "modality" else colouring

        def run(job: Job):
            return self.session.compute_map(self.engine.deliver(job), clusters, job.cancelled)

        self.engine.submit("map", run, "Computing the map", self._show_map, self._failed("compute the map"))

    def _show_map(self, data: MapData | None) -> None:
        self.map_data = data
        self.map_view.set_data(data)
        self.map_view.set_query_point(None)
        if self.composer.terms() and data is not None and data.projection.method != "pca":
            self.run_query()  # place the current query on the finished map

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
            self.engine.submit(
                f"paste-{self._serial}",
                save,
                "",
                lambda path: self.composer.add_files([path], Modality.VISION),
                self._failed("paste the picture"),
            )
        else:
            self.say("The clipboard holds no picture or file.")

    def play(self, card) -> None:
        if self._player is None:
            try:
                from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer
            except ImportError as error:
                self.say(f"Sound playback is unavailable on this system ({error}); opening the file instead.")
                QDesktopServices.openUrl(QUrl.fromLocalFile(card.item.path))
                return
            self._player = QMediaPlayer(self)
            self._audio = QAudioOutput(self)
            self._player.setAudioOutput(self._audio)
        self._player.stop()
        self._player.setSource(QUrl.fromLocalFile(card.item.path))
        self._player.play()
        self.say(f"Playing {card.item.name}")

    def export_results(self) -> None:
        if self.outcome is None or not self.outcome.cards:
            self.say("There are no results to export yet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export results", "results.csv", "CSV (*.csv);;JSON (*.json)")
        if path:
            rows = [
                {
                    "rank": r,
                    "score": None if math.isnan(c.score) else round(c.score, 6),
                    "modality": c.item.modality.value,
                    "path": c.item.path,
                    "text": c.item.text,
                    "item": c.item.id,
                }
                for r, c in enumerate(self.outcome.cards, start=1)
            ]
            self.engine.submit(
                "export",
                lambda job: write_rows(path, rows),
                "",
                lambda p: self.say(f"Exported {len(rows)} results to {p}"),
                self._failed("export the results"),
            )

    # -- settings and help ------------------------------------------------------------------

    def open_settings(self) -> None:
        from app.gui.settings_dialog import SettingsDialog
        from engine.models.zoo import entries

        dialog = SettingsDialog(
            entries(),
            self.model_choice or (self.session.model.name if self.session and self.session.model else None),
            self.device,
            self,
        )
        if dialog.exec():
            choice, device = dialog.choice()
            if not self._confirm_download(choice):
                return
            self.model_choice, self.device = choice, device
            self.settings.setValue("model", self.model_choice)
            self.settings.setValue("device", self.device)
            self.load_model(self.model_choice, self.device)

    def _confirm_download(self, name: str | None) -> bool:
        from engine.models.zoo import ModelUnavailable, resolve

        try:
            entry = resolve(name) if name else None
        except ModelUnavailable as error:
            self.say(str(error))
            return False
        if entry is None or entry.available or not entry.downloadable:
            return True
        answer = QMessageBox.question(
            self,
            f"Download {entry.title}",
            f"{entry.title} is not on this machine yet. Download it now? ({entry.summary})\n\n"
            f"It goes to {entry.weights_path}. Esc stops the download; it resumes where it stopped next time.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def show_formats(self) -> None:
        QMessageBox.information(self, "Supported files", formats_help())

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            "About BindScope",
            "<b>BindScope</b><br>Explore ImageBind's joint embedding space: images, text, audio, depth, thermal and IMU in one space.",
        )

    # -- status -----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.message.setText(text)

    def _failed(self, what: str):
        return lambda message: self.say(f"Could not {what}: {message}")

    def _job_started(self, key: str, label: str) -> None:
        if label and key not in ("search", "summary", "labels"):
            self.busy.setFormat(label + "…")
            self.busy.setRange(0, 0)
            self.busy.show()

    def _job_progress(self, key: str, done, total) -> None:
        if key == "index":
            self.library_panel.show_progress("Indexing", done, total)
        elif key == "model":
            self.busy.setRange(0, 1000)
            self.busy.setValue(round(1000 * done / total) if total else 0)
            self.busy.setFormat(f"Downloading {done / 1e9:.2f} / {total / 1e9:.2f} GB")
            return
        if total:
            self.busy.setRange(0, int(total))
            self.busy.setValue(int(done))

    def _jobs_idle(self) -> None:
        self.busy.hide()


def write_rows(path: str, rows: list[dict]) -> str:
    import csv

    if path.lower().endswith(".json"):
        Path(path).write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return path
