"""IMU recordings -> the IMU encoder's [6, imu_length] input.

Channels, in this order: accelerometer x, y, z (m/s^2) and gyroscope x, y, z (rad/s); no
unit conversion is made, so convert g or deg/s before. Accepted inputs:

* CSV with a header row (comma, semicolon, tab or space separated). Columns are found by
  name, in any order and any case: ``ax``/``acc_x``/``accel_x``/``accelerometer_x``...,
  ``gx``/``gyr_x``/``gyro_x``/``gyroscope_x``..., optional ``t``/``time``/``timestamp``;
  text in brackets is ignored (``ax (m/s^2)``). A CSV without a header is read when its
  rows have six numbers (ax..gz) or seven (timestamp first).
* ``.npy`` / ``.npz`` of shape [6, T] or [T, 6] (a [6, 6] array is read as [6, T]); an
  ``.npz`` may carry ``imu`` and ``timestamps`` arrays.

With timestamps (seconds, or ms/us/ns recognised from their spacing) the signal is resampled
linearly onto a uniform ``imu_sample_rate`` grid; without, samples are taken as they come.
Either way it is then cut, or padded with zeros, to ``imu_length`` samples. Missing cells
(empty or NaN) are filled by interpolation along time.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch

from engine.preprocess.arrays import load_arrays
from engine.preprocess.detect import ARRAY_EXTENSIONS
from engine.preprocess.errors import CorruptFile, InvalidSignal
from engine.preprocess.files import DEFAULT_LIMITS, Limits, check_file
from engine.preprocess.imu_columns import CHANNELS, column_role, is_number
from engine.preprocess.spec import DEFAULT_SPEC, PreprocessSpec


def read_imu(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, np.ndarray | None]:
    """An IMU file -> ([6, T] float64 samples, [T] timestamps in seconds or None)."""
    if Path(path).suffix.lower() in ARRAY_EXTENSIONS:
        return _read_array(path, limits)
    return _read_csv(path, limits)


def imu_to_tensor(
    samples: np.ndarray, timestamps: np.ndarray | None, spec: PreprocessSpec = DEFAULT_SPEC, path=None
) -> torch.Tensor:
    """[6, T] samples (+ timestamps) -> [6, imu_length] float32, resampled, filled, cut or padded."""
    samples = _fill_missing(samples, path)
    if timestamps is not None:
        samples = _resample(samples, timestamps, spec.imu_sample_rate, spec.imu_length, path)
    out = np.zeros((6, spec.imu_length), dtype=np.float32)
    length = min(samples.shape[1], spec.imu_length)
    out[:, :length] = samples[:, :length]
    return torch.from_numpy(out)


def load_imu(path: str | Path, spec: PreprocessSpec | None = None, *, limits: Limits = DEFAULT_LIMITS) -> torch.Tensor:
    """An IMU file -> [6, imu_length] (huge: [6, 2000])."""
    samples, timestamps = read_imu(path, limits=limits)
    return imu_to_tensor(samples, timestamps, spec or DEFAULT_SPEC, path=path)


def _read_array(path, limits: Limits) -> tuple[np.ndarray, np.ndarray | None]:
    array, everything = load_arrays(path, ("imu", "data", "samples"), limits)
    if array.ndim != 2 or 6 not in array.shape:
        raise InvalidSignal(path, f"expected shape [6, T] or [T, 6], got {list(array.shape)}")
    samples = array if array.shape[0] == 6 else array.T  # transpose, never reshape: rows are samples
    timestamps = next((everything[k] for k in ("timestamps", "timestamp", "t", "time") if k in everything), None)
    if timestamps is not None:
        timestamps = np.asarray(timestamps, dtype=np.float64).ravel()
        if timestamps.shape[0] != samples.shape[1]:
            raise InvalidSignal(path, f"{timestamps.shape[0]} timestamps for {samples.shape[1]} samples")
        timestamps = _to_seconds(timestamps, path)
    return samples.astype(np.float64), timestamps


def _read_csv(path, limits: Limits) -> tuple[np.ndarray, np.ndarray | None]:
    path = check_file(path, limits)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CorruptFile(path, "not a text CSV file") from None
    if "\x00" in text:
        raise CorruptFile(path, "binary data in a CSV file")
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InvalidSignal(path, "the CSV file has no rows")
    if len(lines) > limits.max_imu_rows:
        raise InvalidSignal(path, f"{len(lines):,} rows is over the {limits.max_imu_rows:,}-row limit")
    rows = list(csv.reader(io.StringIO("\n".join(lines)), _dialect(lines[0])))
    header = [cell.strip() for cell in rows[0]]
    if all(is_number(cell) for cell in header):
        if len(header) not in (6, 7):
            raise InvalidSignal(path, f"no header row and {len(header)} columns; expected 6 (ax..gz) or 7 (t, ax..gz)")
        names = (["t"] if len(header) == 7 else []) + list(CHANNELS)
        body = rows
        first_line = 1
    else:
        names = [column_role(cell) for cell in header]
        body = rows[1:]
        first_line = 2
        missing = [c for c in CHANNELS if c not in names]
        if missing:
            raise InvalidSignal(path, f"missing IMU columns {', '.join(missing)} (found: {', '.join(header)})")
    if not body:
        raise InvalidSignal(path, "the CSV file has a header but no samples")
    columns = {name: index for index, name in enumerate(names) if name is not None}
    values = np.empty((len(body), len(names)), dtype=np.float64)
    for r, row in enumerate(body):
        if len(row) < len(names):
            raise InvalidSignal(path, f"line {r + first_line}: {len(row)} cells, expected {len(names)}")
        for c in columns.values():
            cell = row[c].strip()
            if cell == "" or cell.lower() == "nan":
                values[r, c] = np.nan
                continue
            try:
                values[r, c] = float(cell)
            except ValueError:
                raise InvalidSignal(
                    path, f"line {r + first_line}, column {header[c]!r}: {cell[:40]!r} is not a number"
                ) from None
    samples = np.stack([values[:, columns[c]] for c in CHANNELS])
    timestamps = _to_seconds(values[:, columns["t"]], path) if "t" in columns else None
    return samples, timestamps


def _dialect(first_line: str):
    for delimiter in (",", ";", "\t"):
        if delimiter in first_line:
            return csv.excel if delimiter == "," else _with_delimiter(delimiter)
    return _with_delimiter(" ", skip_initial_space=True)


def _with_delimiter(delimiter: str, skip_initial_space: bool = False):
    class Dialect(csv.excel):
        pass

    Dialect.delimiter = delimiter
    Dialect.skipinitialspace = skip_initial_space
    return Dialect


def _to_seconds(timestamps: np.ndarray, path) -> np.ndarray:
    if not np.isfinite(timestamps).all():
        raise InvalidSignal(path, "timestamps must all be numbers")
    steps = np.diff(timestamps)
    step = float(np.median(steps)) if steps.size else 0.0
    for _ in range(3):  # ms, us, ns: no IMU samples slower than once a second
        if step <= 1.0:
            break
        timestamps, step = timestamps / 1000.0, step / 1000.0
    return timestamps


def _fill_missing(samples: np.ndarray, path) -> np.ndarray:
    if samples.shape[1] == 0:
        raise InvalidSignal(path, "the recording has no samples")
    finite = np.isfinite(samples)
    if finite.all():
        return samples
    if not finite.any():
        raise InvalidSignal(path, "every IMU value is NaN or infinite")
    samples = samples.copy()
    index = np.arange(samples.shape[1])
    for channel, name in enumerate(CHANNELS):
        good = finite[channel]
        if not good.any():
            raise InvalidSignal(path, f"channel {name} holds no numbers")
        samples[channel] = np.interp(index, index[good], samples[channel, good])
    return samples


def _resample(samples: np.ndarray, timestamps: np.ndarray, rate: float, length: int, path) -> np.ndarray:
    order = np.argsort(timestamps, kind="stable")
    timestamps, samples = timestamps[order], samples[:, order]
    keep = np.concatenate([[True], np.diff(timestamps) > 0])
    timestamps, samples = timestamps[keep], samples[:, keep]
    if timestamps.size < 2:
        return samples
    count = min(length, int((timestamps[-1] - timestamps[0]) * rate) + 1)
    grid = timestamps[0] + np.arange(count) / rate
    return np.stack([np.interp(grid, timestamps, channel) for channel in samples])
