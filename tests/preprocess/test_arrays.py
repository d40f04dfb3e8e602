"""Arrays are measured from their headers before they are expanded: a small file never becomes gigabytes."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from engine.preprocess import FileTooLarge, InvalidSignal, Limits, load_depth, load_imu
from engine.preprocess.arrays import load_arrays


def write_declared_member(archive: zipfile.ZipFile, name: str, shape: tuple[int, ...], dtype: str = "<f8") -> None:
    """A member whose header declares ``shape`` but which holds only 4 KiB of zeros: a bomb's header, instantly.

    Loading it would allocate the declared size before finding the data short, so only a
    check of the header, before loading, tells "too large" from "truncated".
    """
    with archive.open(f"{name}.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, {"descr": dtype, "fortran_order": False, "shape": shape})
        member.write(bytes(4096))


def test_depth_npz_bomb_is_refused_from_its_header(tmp_path):
    path = tmp_path / "bomb_depth.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        write_declared_member(archive, "depth", (11585, 11585))
    with pytest.raises(
        FileTooLarge, match=r"bomb_depth.npz: array 'depth': 134,212,225 pixels is over the 120,000,000"
    ):
        load_depth(path)


def test_depth_npy_over_the_pixel_cap(tmp_path):
    np.save(tmp_path / "d.npy", np.ones((30, 40), np.float32))
    with pytest.raises(FileTooLarge, match=r"d.npy: 1,200 pixels is over the 1,000-pixel limit"):
        load_depth(tmp_path / "d.npy", limits=Limits(max_pixels=1000))
    assert load_depth(tmp_path / "d.npy", limits=Limits(max_pixels=1200)).shape == (1, 224, 224)


def test_general_byte_cap(tmp_path):
    np.save(tmp_path / "d.npy", np.ones((20, 20)))
    with pytest.raises(FileTooLarge, match=r"\[20, 20\] of float64 would expand to 3,200 bytes, over the 1,000-byte"):
        load_depth(tmp_path / "d.npy", limits=Limits(max_array_bytes=1000))


def test_imu_rows_are_capped_on_the_time_axis(tmp_path):
    np.save(tmp_path / "i.npy", np.ones((6, 500)))
    with pytest.raises(FileTooLarge, match=r"i.npy: 500 rows is over the 400-row limit"):
        load_imu(tmp_path / "i.npy", limits=Limits(max_imu_rows=400))
    path = tmp_path / "bomb_imu.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        write_declared_member(archive, "imu", (50_000_000, 6))
    with pytest.raises(FileTooLarge, match=r"array 'imu': 50,000,000 rows is over the 10,000,000-row limit"):
        load_imu(path)


def test_every_member_that_is_loaded_is_checked_and_no_other_is_loaded(tmp_path):
    path = tmp_path / "rec.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("imu.npy", "w") as member:
            np.save(member, np.ones((6, 300)))
        write_declared_member(archive, "timestamps", (20_000_000,))
    with pytest.raises(FileTooLarge, match=r"array 'timestamps': 20,000,000 rows"):
        load_imu(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("imu.npy", "w") as member:
            np.save(member, np.ones((6, 300)))
        write_declared_member(archive, "unrelated", (100_000, 100_000))  # never asked for: never read
    main, extras = load_arrays(path, ("imu",), extra_keys=("timestamps",))
    assert main.shape == (6, 300) and extras == {}


def test_object_arrays_are_refused_from_the_header(tmp_path):
    path = tmp_path / "o.npz"
    np.savez(path, depth=np.ones((4, 4)), meta=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InvalidSignal, match="array 'meta': the array holds Python objects"):
        load_arrays(path, ("depth",), extra_keys=("meta",))
    assert load_arrays(path, ("depth",))[0].shape == (4, 4)  # the object member is never touched


def test_a_truncated_member_within_the_caps_is_corrupt(tmp_path):
    from engine.preprocess import CorruptFile

    path = tmp_path / "cut.npz"
    with zipfile.ZipFile(path, "w") as archive:
        write_declared_member(archive, "depth", (100, 100))
    with pytest.raises(CorruptFile, match="cut.npz: not a valid NumPy file"):
        load_depth(path)
