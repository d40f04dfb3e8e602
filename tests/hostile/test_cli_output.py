"""Issue 19, rows 13 and 15 (command line): text from files never drives the terminal, and bad numbers are
refused with one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.terminal import printable
from engine.projection import hdbscan
from tests.test_cli import run
from tests.test_hostile import cli


def test_control_characters_are_escaped_on_one_line():
    assert printable("a\x1b[2Jb\nc\td\u202ee\x9b") == "a\\x1b[2Jb\\x0ac\\x09d\\u202ee\\x9b"
    assert printable("caf\udcc3.jpg") == "caf\ufffd.jpg"


@pytest.mark.slow
def test_paths_and_errors_from_files_are_printed_escaped(tmp_path, make_workspace):  # row 13
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "evil\x1b[2J\nname.txt").write_text("a dog in the park")
    (folder / "bad\x1b]0;pwned\x07.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    library = make_workspace(folder).folder
    search = cli("search", "--text", "dog", "-k", "5", "--library", library, timeout=600)
    status = cli("status", "--library", library, timeout=600)
    for result in (search, status):
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "evil\\x1b[2J\\x0aname.txt" in search.stdout
    assert "bad\\x1b]0;pwned\\x07.png" in status.stdout


def test_numbers_out_of_range_are_refused_in_one_line(tmp_path, make_workspace, world):  # row 15
    library = make_workspace(world / "text").folder
    result = cli("status", "--library", library, "--failures", "-1")
    assert result.returncode == 2 and "must be 0 or more" in result.stderr
    result = cli("search", "--library", library, "--item", "99999999999999999999")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "no library item" in result.stderr


def test_argument_errors_are_json_under_json_and_name_the_value(capsys):  # row 15
    code, out, _ = run(capsys, "status", "--failures", "x", "--json")
    assert code == 2
    assert json.loads(out) == {"error": "UsageError", "message": "argument --failures: 'x': not a whole number"}


def test_a_missing_pairs_file_is_one_line_naming_it(tmp_path, tiny_weights, capsys):  # row 15
    pairs = ("--pairs", tmp_path / "gone.csv", "--base", tiny_weights, "--out", tmp_path / "out.safetensors")
    code, out, err = run(capsys, "train-bind", "--modality", "audio", *pairs, "--json")
    assert code == 2 and err.count("\n") == 1
    error = json.loads(out)
    assert error["error"] == "PairsError" and error["message"].startswith(f"{tmp_path / 'gone.csv'}: cannot read")


def test_a_map_of_one_item_clusters_it_as_noise_and_warns_nobody(tmp_path, make_workspace, capsys):  # row 15
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "a.txt").write_text("a dog in the park")
    library = make_workspace(folder).folder
    code, _, err = run(capsys, "map", "--library", library, "--clusters", "hdbscan", "--out", tmp_path / "map.json")
    assert code == 0 and "Warning" not in err, err
    assert [p["cluster"] for p in json.loads((tmp_path / "map.json").read_text())["points"]] == [-1]
    assert hdbscan(np.ones((4, 8), np.float32)).tolist() == [-1] * 4
