"""Moments in the window: the results pane ranks windows of long recordings, each card says when, and plays from it."""

from __future__ import annotations

import pytest

from app.timecode import clock, span
from tests.gui.conftest import ENGINE_TIMEOUT_MS, settle
from tests.test_moments_library import sound


class FakePlayer:
    """QMediaPlayer's calls the preview makes, recorded (QtMultimedia's libraries are missing on headless CI)."""

    def __init__(self):
        self.calls = []

    def isPlaying(self):
        return False

    def stop(self):
        pass

    def setSource(self, url):
        self.calls.append(url.toLocalFile())

    def setPosition(self, ms):
        self.calls.append(ms)

    def play(self):
        self.calls.append("play")


@pytest.fixture()
def recordings_library(tmp_path, tiny_weights):
    from engine.workspace import Workspace

    folder = tmp_path / "data"
    folder.mkdir()
    sound(folder / "long.wav", 16.0)
    sound(folder / "short.wav", 3.0, pitch=440.0, seed=1)
    workspace = Workspace.open(tmp_path / "library", create=True, model=str(tiny_weights), device="cpu")
    workspace.index([folder])
    workspace.close()
    return tmp_path / "library", folder


def test_the_moments_switch_shows_when_and_plays_from_there(qtbot, make_window, recordings_library, monkeypatch):
    library, folder = recordings_library
    window = make_window(library)
    tree = window.library_panel.tree
    nodes = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    assert [(n.text(0), n.text(1)) for n in nodes if n.text(0) == "Moments"] == [("Moments", "5")]
    window.results.count.setValue(3)
    window.composer.add_text("a bell")
    qtbot.waitUntil(lambda: bool(window.results.cards), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    _a_file_card_shows_its_best_moment(window, folder)
    window.results.moments.setChecked(True)
    qtbot.waitUntil(lambda: window.session.moments and bool(window.outcome.moments), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    hits = window.session.moment_hits()
    cards = window.results.cards
    assert len(cards) == 3 and [(c.item.path, c.moment) for c in cards] == [
        (item.path, (m.start, m.end)) for item, m in hits
    ]
    assert all(c.item.path == str(folder / "long.wav") for c in cards)
    first = cards[0]
    assert first.when.text() == f"<small>at {span(*first.moment)}</small>" and first.play_button.text().startswith(
        "▶ 0:"
    )
    assert window.results.title.text() == "Moments (3)"
    player = FakePlayer()
    monkeypatch.setattr(window, "_player", player)
    first.play_button.click()
    assert player.calls == [first.item.path, int(first.moment[0] * 1000), "play"]
    _a_moment_card_searches_by_its_window(qtbot, window, cards[1])
    window.results.moments.setChecked(False)
    qtbot.waitUntil(lambda: not window.outcome.moments and bool(window.results.cards), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    _a_file_card_shows_its_best_moment(window, folder)


def _a_file_card_shows_its_best_moment(window, folder) -> None:
    cards = {card.item.path: card for card in window.results.cards}
    long, short = cards[str(folder / "long.wav")], cards[str(folder / "short.wav")]
    best = window.outcome.best_moments(long.item.id)[0]
    assert long.moment == (best.start, best.end) and long.when.text().startswith("<small>best at ")
    assert short.moment is None


def test_a_file_card_opens_its_top_moments_to_play_or_search_by(qtbot, make_window, recordings_library):
    library, folder = recordings_library
    window = make_window(library)
    window.composer.add_text("a bell")
    qtbot.waitUntil(lambda: bool(window.results.cards), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    cards = {card.item.path: card for card in window.results.cards}
    long, short = cards[str(folder / "long.wav")], cards[str(folder / "short.wav")]
    assert not hasattr(short, "moments_button")  # no windows: nothing to open
    tops = window.outcome.best_moments(long.item.id)
    windows = long.moments_button.menu().actions()
    assert len(tops) == 3 and [a.text() for a in windows] == [f"{span(m.start, m.end)}  ·  {m.score:.3f}" for m in tops]
    player = FakePlayer()
    window._player = player
    play, use, _ = windows[1].menu().actions()
    assert play.text() == f"▶ Play from {clock(tops[1].start)}"
    play.trigger()
    assert player.calls == [long.item.path, int(tops[1].start * 1000), "play"]
    use.trigger()
    [term] = window.query.terms
    assert term.name == f"long.wav at {span(tops[1].start, tops[1].end)}"
    qtbot.waitUntil(
        lambda: window.outcome.results.terms[0].term.span == (tops[1].start, tops[1].end), timeout=ENGINE_TIMEOUT_MS
    )
    settle(qtbot, window)


def _a_moment_card_searches_by_its_window(qtbot, window, card) -> None:
    window_span = card.moment
    card.use_button.click()
    [term] = window.query.terms
    assert term.name == f"long.wav at {span(*window_span)}"
    qtbot.waitUntil(
        lambda: bool(window.outcome.moments) and window.outcome.results.terms[0].term.span == window_span,
        timeout=ENGINE_TIMEOUT_MS,
    )
    settle(qtbot, window)
    assert window.results.cards[0].moment == window_span


def test_exporting_in_moments_mode_writes_the_moments(qtbot, make_window, recordings_library, tmp_path):
    import csv
    import json

    library, folder = recordings_library
    window = make_window(library)
    window.results.moments.setChecked(True)
    window.results.count.setValue(3)
    window.composer.add_text("a bell")
    qtbot.waitUntil(lambda: bool(window.outcome and window.outcome.moments), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    hits = window.session.moment_hits()
    expected = [(item.id, item.path, m.start, m.end, round(m.score, 6)) for item, m in hits]
    assert len(expected) == 3
    for name in ("moments.json", "moments.csv"):
        out = tmp_path / name
        window.folders.ask_save = lambda *_, out=out: str(out)  # the file dialog's answer
        window.message.setText("")
        window.export_results()
        qtbot.waitUntil(lambda: "Exported 3 moments" in window.message.text(), timeout=ENGINE_TIMEOUT_MS)
        if name.endswith(".json"):
            rows = json.loads(out.read_text())["results"]
        else:
            with open(out, newline="", encoding="utf-8") as handle:
                rows = [
                    {**r, "item": int(r["item"]), **{k: float(r[k]) for k in ("start", "end", "score")}}
                    for r in csv.DictReader(handle)
                ]
        assert [(r["item"], r["path"], r["start"], r["end"], r["score"]) for r in rows] == expected


def test_the_large_preview_shows_the_score_along_a_long_recording(qtbot, make_window, recordings_library, tmp_path):
    from PySide6.QtCore import QPoint, Qt

    library, folder = recordings_library
    window = make_window(library)
    window.composer.add_text("a bell")
    qtbot.waitUntil(lambda: bool(window.results.cards), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    paths = [card.item.path for card in window.results.cards]
    window.results.preview(paths.index(str(folder / "long.wav")))
    large = window.results.large
    qtbot.waitUntil(lambda: bool(large.strip.windows), timeout=ENGINE_TIMEOUT_MS)
    windows = large.strip.windows
    assert [(m.start, m.end) for m in windows] == [(0, 6), (3, 9), (6, 12), (9, 15), (10, 16)]
    assert sorted(windows, key=lambda m: -m.score)[:3] == window.outcome.best_moments(large.item.id)
    best = window.outcome.best_moments(large.item.id)[0]
    assert large.view._span == (best.start, best.end)  # the best window marked on the waveform
    assert large.strip.isVisible() and large.strip.duration == 16.0
    large.grab().save(str(tmp_path / "strip.png"))
    player = FakePlayer()
    large._player = player
    x = large.strip.width() // 2
    qtbot.mouseClick(large.strip, Qt.MouseButton.LeftButton, pos=QPoint(x, 20))
    assert player.calls == [str(folder / "long.wav"), int(large.strip.time_at(x) * 1000), "play"]
    assert 6.0 < large.strip.mark < 10.0
    before = [m.score for m in windows]
    window.composer.add_text("a dog barking")  # a new query: the open preview's strip follows it
    qtbot.waitUntil(lambda: [m.score for m in large.strip.windows] != before, timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    best = window.outcome.best_moments(large.item.id)[0]
    assert max(large.strip.windows, key=lambda m: m.score) == best and large.view._span == (best.start, best.end)
    paths = [card.item.path for card in window.results.cards]
    window.results.preview(paths.index(str(folder / "short.wav")))
    qtbot.waitUntil(lambda: large.item.path == str(folder / "short.wav"), timeout=ENGINE_TIMEOUT_MS)
    settle(qtbot, window)
    assert large.strip.windows == [] and not large.strip.isVisible() and large.view._span is None


def test_a_time_picked_on_a_recording_that_does_not_play_is_marked(qtbot):
    from types import SimpleNamespace

    from app.gui.large_preview import LargePreview
    from app.gui.score_strip import steps
    from engine.modality import Modality
    from engine.workspace import Moment

    windows = [Moment(7, start, start + 6.0, score, Modality.IMU) for start, score in ((4.0, 0.2), (0.0, 0.1))]
    assert steps(windows) == [(0.0, 4.0, 0.1), (4.0, 10.0, 0.2)]
    large = LargePreview()
    qtbot.addWidget(large)
    large.item = SimpleNamespace(id=7, modality=Modality.IMU)
    large.show_scores(8, windows)
    assert large.strip.windows == []  # another item's scores, come late
    large.show_scores(7, windows)
    large.go_to(2.5)
    assert large.view.playhead == 0.25 and large.details.text() == "IMU · marked at 0:02.5"


def test_a_video_moment_plays_in_the_large_preview_from_its_start(qtbot, tmp_path):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtWidgets import QWidget

    from app.gui.previews import PreviewLoader
    from app.gui.results import ResultsPanel
    from engine.modality import Modality
    from engine.workspace import Item, Moment

    video = Item(1, Modality.VISION, str(tmp_path / "walk.mp4"), None, "h1", "embedded")
    sound = Item(2, Modality.AUDIO, str(tmp_path / "long.wav"), None, "h2", "embedded")
    panel = ResultsPanel(PreviewLoader(capacity=4))
    qtbot.addWidget(panel)
    sounds = []
    panel.play.connect(lambda card, at: sounds.append((card, at)))
    panel.set_cards([(video, 0.4), (sound, 0.3)], "Moments", moments=[(3.0, 9.0), (6.0, 12.0)])
    card, audio_card = panel.cards
    assert card.play_button.text() == "▶ 0:03.0" and "video" in card.play_button.toolTip()
    panel.preview(1)
    large = panel.large
    player, screen = FakePlayer(), QWidget()  # a stand-in for the QVideoWidget the preview makes on first use
    large._player = player
    large.attach_screen(screen)
    card.play_button.click()
    assert large.item is video and player.calls == [video.path, 3000, "play"]
    assert screen.isVisibleTo(large) and not large.view.isVisibleTo(large)  # the video plays in the view's place
    assert large.play_button.isVisibleTo(large)
    large.show_scores(video.id, [Moment(video.id, s, s + 6.0, 0.1 * s, Modality.VISION) for s in (0.0, 3.0, 6.0)])
    player.calls.clear()
    x = large.strip.width() // 4
    qtbot.mouseClick(large.strip, Qt.MouseButton.LeftButton, pos=QPoint(x, 20))
    assert player.calls == [video.path, int(large.strip.time_at(x) * 1000), "play"]
    audio_card.play_button.click()
    assert sounds == [(audio_card, 6.0)]  # a sound plays in the window's player, as before
    panel.preview(1)
    assert large.item is sound and large.view.isVisibleTo(large) and not screen.isVisibleTo(large)
    assert large.play_button.text() == "▶ 0:06.0"


def test_a_real_player_starts_a_video_at_the_moment(qtbot, tmp_path):
    """Where QtMultimedia loads (its system libraries present): the ffmpeg backend plays from the moment, not 0:00
    (it drops a seek made before the file is loaded)."""
    pytest.importorskip("PySide6.QtMultimediaWidgets", exc_type=ImportError)
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    from app.gui.large_preview import LargePreview
    from engine.modality import Modality
    from engine.workspace import Item

    path = tmp_path / "walk.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for n in range(200):
        writer.write(np.full((48, 64, 3), n, np.uint8))
    writer.release()
    large = LargePreview()
    qtbot.addWidget(large)
    large.show_item(Item(1, Modality.VISION, str(path), None, "h", "embedded"), 0.5, False, (6.0, 12.0))
    large.play()
    qtbot.waitUntil(lambda: large._player.position() > 0, timeout=ENGINE_TIMEOUT_MS)
    assert large._player.position() >= 6000
    assert large.screen.isVisible() and not large.view.isVisible()
    large.stop()
    qtbot.waitUntil(lambda: large.view.isVisible(), timeout=ENGINE_TIMEOUT_MS)
