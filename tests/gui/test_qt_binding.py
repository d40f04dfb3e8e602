"""The Qt binding must not leak references to None or True: PySide6 6.12.0 on Python 3.11 dropped one per void
call and per signal emit, and the interpreter aborted ("none_dealloc") after a few thousand map repaints."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    ticked = Signal(int)


def test_void_calls_and_emits_keep_none_and_true_alive():
    emitter = _Emitter()
    received = []
    emitter.ticked.connect(received.append)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for n in range(2000):
        emitter.setObjectName("a")
        emitter.ticked.emit(n)
    assert len(received) == 2000
    assert abs(sys.getrefcount(None) - none_before) < 100
    assert abs(sys.getrefcount(True) - true_before) < 100
