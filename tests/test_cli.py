"""The command line end to end, in-process through ``app.cli.main`` with the tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture()
def library(tmp_path, mixed_folder, tiny_weights, capsys):
    code, out, _ = run(
        capsys,
        "index",
        mixed_folder,
        "--library",
        tmp_path / "lib",
        "--model",
        tiny_weights,
        "--device",
        "cpu",
        "--json",
    )
    assert code == 0
    summary = json.loads(out)
    assert (summary["added"], summary["embedded"], summary["failed"]) == (75, 72, 3)
    assert {f["error_kind"] for f in summary["failures"]} >= {"EmptyFile", "InvalidSignal"}
    return tmp_path / "lib"


def test_status(capsys, library):
    code, out, _ = run(capsys, "status", "--library", library, "--json")
    status = json.loads(out)
    assert code == 0 and status["counts"]["audio"] == {"pending": 0, "embedded": 12, "failed": 1}
    assert len(status["failed"]) == 3 and status["health"] == "ok" and status["model_available"]
    code, out, _ = run(capsys, "status", "--library", library)
    assert "failed: " in out and "broken.csv" in out


def test_search_by_file_text_and_item_with_weights(capsys, library, world, mixed_folder, tiny_weights):
    sound = sorted((world / "audio").iterdir())[0]
    code, out, _ = run(
        capsys,
        "search",
        "--library",
        library,
        "--file",
        sound,
        "--text",
        "rain",
        "--weight",
        "-0.5",
        "--item",
        "3",
        "--modality",
        "vision",
        "--modality",
        "thermal",
        "-k",
        "4",
        "--json",
        "--device",
        "cpu",
    )
    assert code == 0
    result = json.loads(out)
    assert [q["weight"] for q in result["query"]] == [1.0, -0.5, 1.0]
    assert set(result["results"]) == {"vision", "thermal"} and all(len(v) == 4 for v in result["results"].values())
    assert 3 not in [hit["id"] for hit in result["merged"]]
    code, out, _ = run(capsys, "search", "--library", library, "--item", "3", "-k", "2", "--merged")
    assert code == 0 and "1." in out
    by_path = sorted((mixed_folder / "images").glob("dog_*"))[0]
    code, out, _ = run(capsys, "search", "--library", library, "--item", by_path, "-k", "1", "--json")
    assert code == 0 and json.loads(out)["query"][0]["modality"] == "vision"


def test_classify_probabilities_sum_to_one(capsys, library, world):
    code, out, _ = run(
        capsys,
        "classify",
        "--library",
        library,
        "--labels",
        "dog,rain,bell",
        "--file",
        sorted((world / "audio").iterdir())[0],
        "--json",
        "--device",
        "cpu",
    )
    assert code == 0
    ranked = json.loads(out)
    assert {r["label"] for r in ranked} == {"dog", "rain", "bell"} and abs(
        sum(r["probability"] for r in ranked) - 1
    ) < 1e-4


def test_map_png_and_json(capsys, library, tmp_path):
    code, out, _ = run(capsys, "map", "--library", library, "--out", tmp_path / "map.json", "--clusters", "kmeans")
    assert code == 0
    points = json.loads((tmp_path / "map.json").read_text())["points"]
    assert len(points) == 72 and {"x", "y", "modality", "cluster"} <= set(points[0])
    code, _, _ = run(capsys, "map", "--library", library, "--out", tmp_path / "map.png")
    assert code == 0 and (tmp_path / "map.png").stat().st_size > 1000


def test_export_npz_and_parquet_then_import(capsys, library, tmp_path):
    assert run(capsys, "export", "--library", library, "--out", tmp_path / "e.npz")[0] == 0
    with np.load(tmp_path / "e.npz") as data:
        assert data["embeddings"].shape == (72, 16) and np.isfinite(data["embeddings"]).all()  # embedded only
    out = tmp_path / "e.parquet"
    assert run(capsys, "export", "--library", library, "--out", out, "--include-failures")[0] == 0
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "e.parquet")
    assert table.num_rows == 75 and table.schema.metadata[b"bindscope.model"]
    code, out, _ = run(capsys, "import", tmp_path / "e.parquet", "--library", tmp_path / "copy", "--json")
    assert code == 0 and json.loads(out)["changed"] == 75
    code, out, _ = run(capsys, "import", tmp_path / "e.parquet", "--library", tmp_path / "copy", "--json")
    assert code == 0 and json.loads(out)["changed"] == 0
    code, out, _ = run(capsys, "search", "--library", tmp_path / "copy", "--item", "1", "-k", "1", "--json")
    assert code == 0 and json.loads(out)["merged"]


def test_models_list(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path))
    code, out, _ = run(capsys, "models", "--json")
    assert code == 0 and "imagebind-huge" in [m["name"] for m in json.loads(out)]


def test_bad_arguments_and_unusable_libraries_exit_2(capsys, tmp_path, library):
    assert run(capsys, "status", "--library", tmp_path / "nowhere")[0] == 2
    code, _, err = run(capsys, "search", "--library", library)
    assert code == 2 and "give at least one" in err
    code, out, err = run(capsys, "search", "--library", library, "--file", tmp_path / "missing.wav", "--json")
    assert code == 2 and "missing.wav" in err and "missing.wav" in json.loads(out)["message"]
    for bad in (["-k", "-1"], ["-k", "0"], ["--weight", "nan"], ["--weight", "inf"]):
        code, _, err = run(capsys, "search", "--library", library, "--item", "1", *bad)
        assert code == 2 and "usage: bindscope search" in err
    code, out, err = run(capsys, "search", "--weight", "2", "--json")
    assert code == 2 and json.loads(out) == {
        "error": "UsageError",
        "message": "--weight must follow a --file, --text, --item or --moment",
    }
    code, out, _ = run(capsys, "serch", "--json")
    assert code == 2 and json.loads(out)["message"].startswith("argument command: invalid choice: 'serch'")


def test_version_completion_and_examples(capsys):
    from engine import __version__

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == f"bindscope {__version__}\n"
    code, out, _ = run(capsys, "completion", "bash")
    assert code == 0 and "_shtab_bindscope" in out and "search" in out
    with pytest.raises(SystemExit):
        main(["index", "--help"])
    assert "examples:\n  bindscope index ~/Pictures" in capsys.readouterr().out


def test_without_library_the_default_one_is_used(capsys, tmp_path, mixed_folder, tiny_weights, monkeypatch):
    monkeypatch.setenv("BINDSCOPE_LIBRARY", str(tmp_path / "mine"))
    code, out, _ = run(capsys, "index", mixed_folder / "images", "--model", tiny_weights, "--device", "cpu", "--json")
    assert code == 0 and json.loads(out)["embedded"] > 0
    code, out, _ = run(capsys, "status", "--json")
    assert code == 0 and json.loads(out)["library"] == str(tmp_path / "mine")


def test_models_state_the_weights_licence(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("BINDSCOPE_CACHE_DIR", str(tmp_path))
    code, out, _ = run(capsys, "models", "--json")
    licences = {m["name"]: m["licence"] for m in json.loads(out)}
    assert "CC-BY-NC 4.0" in licences["imagebind-huge"] and "non-commercial" in licences["imagebind-huge"]
    code, out, _ = run(capsys, "models")
    assert "licence: Meta's ImageBind code and weights are licensed CC-BY-NC 4.0" in out


def test_a_library_keeps_its_model_on_the_command_line(capsys, library, tmp_path):
    import torch

    from engine.models.imagebind import ImageBindModel
    from engine.models.weights import save_safetensors
    from engine.models.zoo import metadata_for
    from tests.conftest import tiny_entry

    entry = tiny_entry(out_embed_dim=24)
    torch.manual_seed(3)
    other = save_safetensors(
        ImageBindModel(entry.config), tmp_path / "other.safetensors", metadata_for(entry.config, entry.spec)
    )
    code, out, err = run(capsys, "search", "--library", library, "--text", "a dog", "--model", other, "--json")
    assert code == 2 and json.loads(out)["error"] == "WorkspaceError" and "bindscope reembed" in err
    code, out, _ = run(capsys, "reembed", "--library", library, "--model", other, "--json", "--device", "cpu")
    assert code == 0 and json.loads(out)["switched"]
    code, out, _ = run(capsys, "status", "--library", library, "--json")
    assert json.loads(out)["model"] == str(other)


def test_demo_gallery_is_written_in_loader_formats(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--out", tmp_path / "gallery", "--per-concept", "1", "--json")
    assert code == 0 and json.loads(out)["scenes"] == 12


def test_index_with_reduced_jpeg_decoding_says_so_in_the_library(capsys, tmp_path, tiny_weights):
    from tests.files import write_image

    folder = tmp_path / "photos"
    for i in range(2):
        write_image(folder / f"{i}.jpg", width=640, height=480, seed=i)
    common = ["--library", tmp_path / "lib", "--model", tiny_weights, "--device", "cpu"]
    code, _, err = run(capsys, "index", folder, *common, "--reduced-jpeg", "--ray", "local")
    assert code == 2 and "reduced JPEG decoding runs in this process" in err
    code, out, _ = run(capsys, "index", folder, *common, "--reduced-jpeg", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["embedded"] == 2 and summary["model_seconds"] > 0
    code, out, _ = run(capsys, "status", "--library", tmp_path / "lib", "--json")
    assert json.loads(out)["vectors_made_by"].endswith("; JPEG pictures decoded at a reduced size")
