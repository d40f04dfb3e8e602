"""Recognising IMU columns by name (light: used by modality detection as well as the IMU loader)."""

from __future__ import annotations

import re

CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
_ACCEL = re.compile(r"^(a|acc|accel|accelerometer|acceleration|linacc)([xyz])$")
_GYRO = re.compile(r"^(g|gyr|gyro|gyroscope|w|omega|angvel)([xyz])$")
_TIME = re.compile(
    r"^(t|ts|time|times|timestamp|timestamps|seconds|sec|s|ms|us|ns|timems|timestampms|timens|timestampns)$"
)


def column_role(header: str) -> str | None:
    """``"Acc_X (m/s^2)"`` -> ``"ax"``; ``"timestamp"`` -> ``"t"``; anything else -> None."""
    key = re.sub(r"[\(\[].*?[\)\]]", "", header).lower()
    key = re.sub(r"[^a-z]", "", key)
    if _TIME.match(key):
        return "t"
    for pattern, prefix in ((_ACCEL, "a"), (_GYRO, "g")):
        match = pattern.match(key)
        if match:
            return prefix + match.group(2)
    return None


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
