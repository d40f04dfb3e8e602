"""A file that cannot be read is refused when offered, with the reason, and never breaks other terms (defect 5)."""

from __future__ import annotations

from app.state.offers import readable


def test_a_corrupt_file_is_refused_when_offered_and_the_good_one_is_kept(make_workspace, world, tmp_path):
    workspace = make_workspace(world)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 10)
    good = sorted((world / "images").iterdir())[0]
    copy = tmp_path / good.name
    copy.write_bytes(good.read_bytes())
    checked = [readable(workspace, file) for file in workspace.describe_files([str(broken), str(copy)])]
    assert checked[0].modality is None and "broken.png cannot be used" in checked[0].refusal
    assert checked[1].modality is not None and checked[1].refusal is None
