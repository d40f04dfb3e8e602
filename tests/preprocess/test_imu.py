from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

from engine.preprocess import CorruptFile, FileTooLarge, InvalidSignal, Limits, load_imu
from engine.preprocess.imu import column_role
from engine.preprocess.spec import PreprocessSpec
from tests.files import imu_signal, write_imu_csv


@pytest.mark.parametrize(
    "header, role",
    [
        ("ax", "ax"),
        ("Acc_X", "ax"),
        ("accelerometer_z (m/s^2)", "az"),
        ("GYRO_Y", "gy"),
        ("gyr_z[rad/s]", "gz"),
        ("Timestamp", "t"),
        ("time", "t"),
        ("temperature", None),
        ("label", None),
    ],
)
def test_column_roles(header, role):
    assert column_role(header) == role


def test_csv_layout(tmp_path):
    out = load_imu(write_imu_csv(tmp_path / "a.csv"))
    _, data = imu_signal()
    assert out.shape == (6, 2000) and out.dtype == torch.float32
    np.testing.assert_allclose(out[:, :400].numpy(), data.T, atol=1e-5)
    assert out[:, 400:].eq(0).all()  # padded


def test_column_order_and_case_do_not_matter(tmp_path):
    a = load_imu(write_imu_csv(tmp_path / "a.csv"))
    b = load_imu(write_imu_csv(tmp_path / "b.csv", header=("GZ", "Timestamp", "ay", "AX", "gyro_x", "Acc_Z", "gy")))
    torch.testing.assert_close(a, b)


def test_timestamps_resample_to_spec_rate(tmp_path):
    slow = load_imu(write_imu_csv(tmp_path / "100hz.csv", samples=200, rate=100.0))
    fast = load_imu(write_imu_csv(tmp_path / "200hz.csv", samples=400, rate=200.0))
    # both cover 2 s: resampled to 200 Hz they agree where the signal exists
    torch.testing.assert_close(slow[:, :398], fast[:, :398], atol=0.02, rtol=0)


def test_millisecond_timestamps_are_recognised(tmp_path):
    t, data = imu_signal()
    lines = ["timestamp_ms,ax,ay,az,gx,gy,gz"] + [
        ",".join(f"{v:.9g}" for v in [t[i] * 1000, *data[i]]) for i in range(len(t))
    ]
    (tmp_path / "ms.csv").write_text("\n".join(lines))
    torch.testing.assert_close(
        load_imu(tmp_path / "ms.csv"), load_imu(write_imu_csv(tmp_path / "s.csv")), atol=1e-5, rtol=0
    )


def test_long_recordings_are_cut(tmp_path):
    assert load_imu(write_imu_csv(tmp_path / "long.csv", samples=3000)).shape == (6, 2000)
    assert load_imu(write_imu_csv(tmp_path / "long.csv", samples=3000), PreprocessSpec(imu_length=800)).shape == (
        6,
        800,
    )


def test_npy_both_layouts_transpose_not_reshape(tmp_path):
    _, data = imu_signal()
    np.save(tmp_path / "tx6.npy", data)
    np.save(tmp_path / "6xt.npy", data.T)
    a, b = load_imu(tmp_path / "tx6.npy"), load_imu(tmp_path / "6xt.npy")
    torch.testing.assert_close(a, b)
    np.testing.assert_allclose(a[:, :400].numpy(), data.T, atol=1e-6)


def test_npz_with_timestamps(tmp_path):
    t, data = imu_signal(samples=200, rate=100.0)
    np.savez(tmp_path / "rec.npz", imu=data, timestamps=t)
    out = load_imu(tmp_path / "rec.npz")
    assert out[:, :398].abs().sum() > 0 and out[:, 400:].eq(0).all()  # 2 s at 200 Hz


def test_headerless_csv(tmp_path):
    _, data = imu_signal()
    (tmp_path / "raw.csv").write_text("\n".join(",".join(f"{v:.9g}" for v in row) for row in data))
    np.testing.assert_allclose(load_imu(tmp_path / "raw.csv")[:, :400].numpy(), data.T, atol=1e-5)


def test_semicolon_delimiter(tmp_path):
    text = write_imu_csv(tmp_path / "c.csv").read_text().replace(",", ";")
    (tmp_path / "s.csv").write_text(text)
    torch.testing.assert_close(load_imu(tmp_path / "s.csv"), load_imu(tmp_path / "c.csv"))


def test_missing_cells_are_interpolated(tmp_path):
    lines = write_imu_csv(tmp_path / "c.csv").read_text().splitlines()
    cells = lines[10].split(",")
    cells[1] = ""
    lines[10] = ",".join(cells)
    (tmp_path / "gap.csv").write_text("\n".join(lines))
    out = load_imu(tmp_path / "gap.csv")
    assert torch.isfinite(out).all()


def test_missing_columns(tmp_path):
    (tmp_path / "m.csv").write_text("t,ax,ay,az\n0,1,2,3\n")
    with pytest.raises(InvalidSignal, match="m.csv: missing IMU columns gx, gy, gz"):
        load_imu(tmp_path / "m.csv")


def test_non_numeric_cell_names_line_and_column(tmp_path):
    lines = write_imu_csv(tmp_path / "c.csv").read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[3], "oops", 1)
    (tmp_path / "bad.csv").write_text("\n".join(lines))
    with pytest.raises(InvalidSignal, match="line 6, column 'az': 'oops' is not a number"):
        load_imu(tmp_path / "bad.csv")


def test_all_nan(tmp_path):
    (tmp_path / "nan.csv").write_text("ax,ay,az,gx,gy,gz\n" + "nan,nan,nan,nan,nan,nan\n" * 5)
    with pytest.raises(InvalidSignal, match="NaN"):
        load_imu(tmp_path / "nan.csv")


def test_header_only(tmp_path):
    (tmp_path / "h.csv").write_text("ax,ay,az,gx,gy,gz\n")
    with pytest.raises(InvalidSignal, match="no samples"):
        load_imu(tmp_path / "h.csv")


def test_wrong_npy_shape(tmp_path):
    np.save(tmp_path / "w.npy", np.zeros((5, 100)))
    with pytest.raises(InvalidSignal, match=r"expected shape \[6, T\] or \[T, 6\], got \[5, 100\]"):
        load_imu(tmp_path / "w.npy")


def test_binary_csv(tmp_path):
    (tmp_path / "b.csv").write_bytes(b"\x00\x01\x02\xff\xfe")
    with pytest.raises(CorruptFile, match="b.csv"):
        load_imu(tmp_path / "b.csv")


def test_a_spike_beyond_any_sensor_is_refused(tmp_path):
    (tmp_path / "s_imu.csv").write_text("ax,ay,az,gx,gy,gz\n1e25,0,0,0,0,0\n0,0,0,0,0,0\n")
    with pytest.raises(
        InvalidSignal, match=r"s_imu.csv: channel ax reads 1e\+25 at sample 1, beyond any motion sensor"
    ):
        load_imu(tmp_path / "s_imu.csv")
    _, data = imu_signal()
    data[7, 4] = -3e7
    np.save(tmp_path / "spike.npy", data)
    with pytest.raises(InvalidSignal, match="channel gy reads -3e\\+07 at sample 8"):
        load_imu(tmp_path / "spike.npy")


def test_large_but_physical_values_and_infinity_are_read(tmp_path):
    (tmp_path / "hard.csv").write_text("ax,ay,az,gx,gy,gz\n1e6,-1e6,0,0,0,32768\ninf,0,0,0,0,0\n0,0,0,0,0,0\n")
    out = load_imu(tmp_path / "hard.csv")
    assert out[0, 0] == 1e6 and out[0, 1] == 0.5e6  # infinity is a missing cell, interpolated
    with pytest.raises(InvalidSignal, match="beyond any motion sensor"):
        load_imu(tmp_path / "hard.csv", limits=Limits(max_imu_magnitude=1e5))


def test_nul_bytes_are_refused_before_the_file_is_read(tmp_path):
    """A header, then a 256 MiB hole: refused at the first line of NULs, with a few KiB of memory."""
    path = tmp_path / "big_imu.csv"
    path.write_text("ax,ay,az,gx,gy,gz\n")
    with path.open("r+b") as handle:
        handle.truncate(256 * 1024**2)  # sparse: no disk used
    tracemalloc.start()
    try:
        with pytest.raises(CorruptFile, match="big_imu.csv: binary data in a CSV file"):
            load_imu(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024**2, f"{peak:,} bytes traced"


def test_a_line_without_end_is_refused(tmp_path):
    (tmp_path / "long.csv").write_text("ax,ay,az,gx,gy,gz\n" + "1," * 50_000)
    with pytest.raises(CorruptFile, match="long.csv: line 2 is longer than 65,536 characters"):
        load_imu(tmp_path / "long.csv")


def test_csv_rows_stop_at_the_limit(tmp_path):
    path = write_imu_csv(tmp_path / "rows.csv", samples=3000)
    with pytest.raises(FileTooLarge, match=r"rows.csv: over the 1,000-row limit at line 1,002; stopped reading there"):
        load_imu(path, limits=Limits(max_imu_rows=1000))
    assert load_imu(path, limits=Limits(max_imu_rows=3000)).shape == (6, 2000)


def test_csv_memory_does_not_grow_with_the_text(tmp_path):
    """20 MB of notes beside 20,000 samples: the loader keeps the numbers, never the whole text."""
    _, data = imu_signal(samples=20_000)
    note = "x" * 1000
    rows = "".join(",".join(f"{v:.6g}" for v in row) + f",{note}\n" for row in data)
    path = tmp_path / "notes.csv"
    path.write_text("ax,ay,az,gx,gy,gz,note\n" + rows)
    tracemalloc.start()
    try:
        load_imu(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < path.stat().st_size / 2, f"{peak:,} bytes traced for a {path.stat().st_size:,}-byte file"


def test_line_numbers_count_every_line_of_the_file(tmp_path):
    (tmp_path / "c.csv").write_text("# recorded on a phone\nax,ay,az,gx,gy,gz\n\n1,2,3,4,5,6\n1,2,x,4,5,6\n")
    with pytest.raises(InvalidSignal, match=r"line 5, column 'az': 'x' is not a number"):
        load_imu(tmp_path / "c.csv")
    (tmp_path / "short.csv").write_text("ax,ay,az,gx,gy,gz\r\n1,2,3,4,5,6\r\n1,2,3\r\n")
    with pytest.raises(InvalidSignal, match=r"line 3: 3 cells, expected 6"):
        load_imu(tmp_path / "short.csv")
