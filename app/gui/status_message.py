"""The status bar's message: one line that elides when the window is narrow, with the whole text in its tooltip.

A plain label asks for its text's full width, so a long message ("The model ImageBind-huge is not on this
machine: …") pushed under the model button at 1280 px; this one asks for none and shows what fits.
"""

from __future__ import annotations

from PySide6.QtWidgets import QSizePolicy
from superqt import QElidingLabel


class StatusMessage(QElidingLabel):
    def __init__(self):
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def show_text(self, text: str) -> None:
        self.setText(text)
        self.setToolTip(text)
