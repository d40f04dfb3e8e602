from __future__ import annotations

import pytest
import torch

from engine.preprocess import CorruptFile, EmptyFile, FileTooLarge, InvalidSignal, Limits, load_text, tokenize

START, END = 49406, 49407


def test_tokenize_shape_and_markers():
    tokens = tokenize(["a dog", ""])
    assert tokens.shape == (2, 77) and tokens.dtype == torch.long
    assert tokens[0, 0] == START and END in tokens[0].tolist()
    assert tokens[1, :2].tolist() == [START, END] and tokens[1, 2:].eq(0).all()


def test_long_text_keeps_end_token_last():
    tokens = tokenize(" ".join(f"word{i}" for i in range(200)))
    assert tokens.shape == (1, 77) and tokens[0, -1] == END


def test_text_file_matches_tokenized_string(tmp_path):
    (tmp_path / "caption.txt").write_text("\ufeffA dog barking at the mailman\n", encoding="utf-8")
    assert torch.equal(load_text(tmp_path / "caption.txt"), tokenize("A dog barking at the mailman")[0])


def test_unicode_and_emoji(tmp_path):
    (tmp_path / "u.txt").write_text("Café 🚗 日本語", encoding="utf-8")
    assert load_text(tmp_path / "u.txt").shape == (77,)


def test_blank_file(tmp_path):
    (tmp_path / "blank.txt").write_text("  \n\t ")
    with pytest.raises(InvalidSignal, match="blank.txt: the text file holds only white space"):
        load_text(tmp_path / "blank.txt")


def test_empty_file(tmp_path):
    (tmp_path / "e.txt").write_bytes(b"")
    with pytest.raises(EmptyFile):
        load_text(tmp_path / "e.txt")


def test_binary_file(tmp_path):
    (tmp_path / "bin.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(CorruptFile, match="binary data"):
        load_text(tmp_path / "bin.txt")


def test_not_utf8(tmp_path):
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(CorruptFile, match="not UTF-8"):
        load_text(tmp_path / "latin.txt")


def test_size_limit(tmp_path):
    (tmp_path / "big.txt").write_text("x" * 2000)
    with pytest.raises(FileTooLarge):
        load_text(tmp_path / "big.txt", limits=Limits(max_text_bytes=1000))
