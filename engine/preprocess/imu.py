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
(empty or NaN) are filled by interpolation along time. Values beyond any motion sensor
(``Limits.max_imu_magnitude``) are refused, and so are recordings over ``max_imu_rows``,
checked as a CSV streams in and from an array's header before it is loaded.
"""

from __future__ import annotations

import csv
import importlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from engine.preprocess.arrays import ArrayCap, load_arrays
from engine.preprocess.detect import ARRAY_EXTENSIONS
from engine.preprocess.errors import CorruptFile, FileTooLarge, InvalidSignal
from engine.preprocess.files import DEFAULT_LIMITS, Limits, check_file
from engine.preprocess.imu_columns import CHANNELS, column_role, is_number
from engine.preprocess.spec import DEFAULT_SPEC, PreprocessSpec

_TIMESTAMP_KEYS = ("timestamps", "timestamp", "t", "time")
_MAX_LINE_CHARS = 64 * 1024  # an IMU row is a few dozen characters; a longer "line" is not an IMU CSV
_BLOCK_ROWS = 65_536
_IMPORTED_ON_FIRST_USE = ("numpy.ma",)  # np.median imports masked arrays on first use


def import_dependencies() -> None:
    """Import now what reading an IMU file would import on first use."""
    for name in _IMPORTED_ON_FIRST_USE:
        importlib.import_module(name)


def read_imu(path: str | Path, *, limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, np.ndarray | None]:
    """An IMU file -> ([6, T] float64 samples, [T] timestamps in seconds or None)."""
    read = _read_array if Path(path).suffix.lower() in ARRAY_EXTENSIONS else _read_csv
    samples, timestamps = read(path, limits)
    _check_magnitude(samples, limits.max_imu_magnitude, path)
    return samples, timestamps


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


def _longest_axis(shape: tuple[int, ...]) -> int:
    """An IMU array's time axis: [6, T] or [T, 6] recordings, [T] timestamps."""
    return max(shape, default=0)


def _read_array(path, limits: Limits) -> tuple[np.ndarray, np.ndarray | None]:
    rows = ArrayCap("row", limits.max_imu_rows, _longest_axis)
    array, extras = load_arrays(path, ("imu", "data", "samples"), limits, rows, _TIMESTAMP_KEYS)
    if array.ndim != 2 or 6 not in array.shape:
        raise InvalidSignal(path, f"expected shape [6, T] or [T, 6], got {list(array.shape)}")
    samples = array if array.shape[0] == 6 else array.T  # transpose, never reshape: rows are samples
    timestamps = next((extras[k] for k in _TIMESTAMP_KEYS if k in extras), None)
    if timestamps is not None:
        timestamps = np.asarray(timestamps, dtype=np.float64).ravel()
        if timestamps.shape[0] != samples.shape[1]:
            raise InvalidSignal(path, f"{timestamps.shape[0]} timestamps for {samples.shape[1]} samples")
        timestamps = _to_seconds(timestamps, path)
    return samples.astype(np.float64), timestamps


def _read_csv(path, limits: Limits) -> tuple[np.ndarray, np.ndarray | None]:
    """Stream the CSV: memory grows with the samples kept, never with the file (a 2 GB file of NULs stops at once)."""
    path = check_file(path, limits)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return _parse_csv(path, handle, limits)
    except UnicodeDecodeError:
        raise CorruptFile(path, "not a text CSV file") from None
    except csv.Error as error:
        raise CorruptFile(path, f"not a readable CSV file ({error})") from None


def _parse_csv(path: Path, handle, limits: Limits) -> tuple[np.ndarray, np.ndarray | None]:
    line = [0]  # the number of the line being parsed, kept current by _data_lines
    lines = _data_lines(path, handle, line)
    first = next(lines, None)
    if first is None:
        raise InvalidSignal(path, "the CSV file has no rows")
    reader = csv.reader(itertools.chain([first], lines), _dialect(first))
    first_row = next(reader)
    header = [cell.strip() for cell in first_row]
    if all(is_number(cell) for cell in header):
        if len(header) not in (6, 7):
            raise InvalidSignal(path, f"no header row and {len(header)} columns; expected 6 (ax..gz) or 7 (t, ax..gz)")
        names = (["t"] if len(header) == 7 else []) + list(CHANNELS)
        body = itertools.chain([first_row], reader)
    else:
        names = [column_role(cell) for cell in header]
        missing = [c for c in CHANNELS if c not in names]
        if missing:
            raise InvalidSignal(path, f"missing IMU columns {', '.join(missing)} (found: {', '.join(header)})")
        body = reader
    wanted = [*CHANNELS, *(["t"] if "t" in names else [])]
    cells = [(names.index(name), header[names.index(name)]) for name in wanted]
    values = _parse_rows(path, body, cells, len(names), line, limits.max_imu_rows)
    samples = values[:, : len(CHANNELS)].T
    timestamps = _to_seconds(values[:, len(CHANNELS)], path) if "t" in names else None
    return samples, timestamps


def _data_lines(path: Path, handle, line: list[int]) -> Iterator[str]:
    """Lines holding data (not blank, not ``#`` comments), read one at a time; NUL bytes refused on sight."""
    number = 0
    while text := handle.readline(_MAX_LINE_CHARS + 1):
        number += 1
        if "\x00" in text:
            raise CorruptFile(path, "binary data in a CSV file")
        if len(text) > _MAX_LINE_CHARS:
            raise CorruptFile(path, f"line {number:,} is longer than {_MAX_LINE_CHARS:,} characters; not an IMU CSV")
        if text.strip() and not text.lstrip().startswith("#"):
            line[0] = number
            yield text


def _parse_rows(
    path: Path, rows, cells: list[tuple[int, str]], width: int, line: list[int], max_rows: int
) -> np.ndarray:
    """[rows, len(cells)] float64, filled block by block; empty and "nan" cells are NaN."""
    blocks, block, filled, total = [], np.empty((_BLOCK_ROWS, len(cells))), 0, 0
    for row in rows:
        if total == max_rows:
            raise FileTooLarge(path, f"over the {max_rows:,}-row limit at line {line[0]:,}; stopped reading there")
        if len(row) < width:
            raise InvalidSignal(path, f"line {line[0]}: {len(row)} cells, expected {width}")
        for column, (index, name) in enumerate(cells):
            block[filled, column] = _number(row[index].strip(), name, path, line[0])
        filled += 1
        total += 1
        if filled == _BLOCK_ROWS:
            blocks.append(block)
            block, filled = np.empty_like(block), 0
    if total == 0:
        raise InvalidSignal(path, "the CSV file has a header but no samples")
    return np.concatenate([*blocks, block[:filled]])


def _number(cell: str, column: str, path: Path, line: int) -> float:
    if cell == "" or cell.lower() == "nan":
        return np.nan
    try:
        return float(cell)
    except ValueError:
        raise InvalidSignal(path, f"line {line}, column {column!r}: {cell[:40]!r} is not a number") from None


def _check_magnitude(samples: np.ndarray, limit: float, path) -> None:
    """Refuse values no motion sensor reads (see ``Limits``): the file is broken, and they drive the model to NaN."""
    for channel, name in zip(samples, CHANNELS, strict=True):
        beyond = (np.abs(channel) > limit) & np.isfinite(channel)  # infinity counts as a missing cell
        if beyond.any():
            first = int(np.argmax(beyond))
            raise InvalidSignal(
                path,
                f"channel {name} reads {channel[first]:.3g} at sample {first + 1:,}, beyond any motion sensor "
                f"(the limit is ±{limit:,.0f}); check the file and its units",
            )


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
