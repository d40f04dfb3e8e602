from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.preprocess import CorruptFile, InvalidSignal, load_imu
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
