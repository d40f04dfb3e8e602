"""Playing a file from a time with QtMultimedia, for the window's sound player and the large preview alike.

The ffmpeg backend drops a seek made before the file is loaded (a moment played from 0:00, measured), so the seek
is made again once the player says the file is loaded.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QUrl


def media_player(parent: QObject):
    """A QMediaPlayer with a sound output, ready for ``play_from``; ImportError where QtMultimedia cannot load (its
    system libraries missing)."""
    from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer

    player = QMediaPlayer(parent)
    player.setAudioOutput(QAudioOutput(player))
    player.pending_ms = None
    player.mediaStatusChanged.connect(lambda status: _loaded(player, status))
    return player


def play_from(player, path: str, seconds: float) -> None:
    """Play ``path`` from ``seconds`` (the seek repeated once the file is loaded)."""
    player.stop()
    player.setSource(QUrl.fromLocalFile(path))
    player.pending_ms = int(seconds * 1000) if seconds > 0 else None
    if player.pending_ms is not None:
        player.setPosition(player.pending_ms)
    player.play()


def _loaded(player, status) -> None:
    from PySide6.QtMultimedia import QMediaPlayer

    ready = (QMediaPlayer.MediaStatus.LoadedMedia, QMediaPlayer.MediaStatus.BufferedMedia)
    if player.pending_ms is not None and status in ready:
        player.setPosition(player.pending_ms)
        player.pending_ms = None
