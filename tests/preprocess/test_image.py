from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.preprocess import CorruptFile, EmptyFile, FileTooLarge, Limits, UnreadableFile, UnsupportedFile, load_image
from engine.preprocess.spec import PreprocessSpec
from tests.files import gradient_rgb, write_image


@pytest.mark.parametrize(
    "name, save",
    [
        ("a.jpg", {"quality": 95}),
        ("a.png", {}),
        ("a.webp", {"lossless": True}),
        ("a.bmp", {}),
        ("a.tiff", {}),
        ("a.gif", {}),
    ],
)
def test_formats_load_to_spec_shape(tmp_path, name, save):
    out = load_image(write_image(tmp_path / name, **save))
    assert out.shape == (3, 224, 224)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_spec_drives_size(tmp_path):
    assert load_image(write_image(tmp_path / "a.png"), PreprocessSpec(image_size=96)).shape == (3, 96, 96)


@pytest.mark.parametrize("name, save", [("a.bmp", {}), ("a.tiff", {}), ("a.webp", {"lossless": True})])
def test_lossless_formats_agree_with_png(tmp_path, name, save):
    png = load_image(write_image(tmp_path / "a.png"))
    torch.testing.assert_close(load_image(write_image(tmp_path / name, **save)), png)


def test_gif_uses_first_frame(tmp_path):
    frames = [Image.fromarray(gradient_rgb(seed=s)).convert("P") for s in (1, 2)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    frames[0].save(tmp_path / "first.gif")
    torch.testing.assert_close(load_image(tmp_path / "anim.gif"), load_image(tmp_path / "first.gif"))


def test_exif_orientation_is_applied(tmp_path):
    pixels = gradient_rgb(64, 48)
    upright = Image.fromarray(np.rot90(pixels, k=-1).copy())  # what a viewer shows for orientation 6
    upright.save(tmp_path / "upright.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    Image.fromarray(pixels).save(tmp_path / "rotated.png", exif=exif)
    torch.testing.assert_close(load_image(tmp_path / "rotated.png"), load_image(tmp_path / "upright.png"))


def test_modes_are_converted(tmp_path):
    rgb = Image.fromarray(gradient_rgb())
    rgb.convert("CMYK").save(tmp_path / "cmyk.jpg")
    rgb.convert("LA").save(tmp_path / "la.png")
    rgb.convert("P").save(tmp_path / "p.png")
    for name in ("cmyk.jpg", "la.png", "p.png"):
        assert load_image(tmp_path / name).shape == (3, 224, 224)


def test_sixteen_bit_is_scaled_not_clipped(tmp_path):
    values = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    Image.fromarray((values // 257).astype(np.uint8)).save(tmp_path / "shallow.png")
    torch.testing.assert_close(
        load_image(tmp_path / "deep.png"), load_image(tmp_path / "shallow.png"), atol=0.02, rtol=0
    )


def test_empty_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(EmptyFile, match="empty.jpg: the file is empty"):
        load_image(tmp_path / "empty.jpg")


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableFile, match="no such file"):
        load_image(tmp_path / "nope.png")


def test_truncated_jpeg(tmp_path):
    data = write_image(tmp_path / "full.jpg", 256, 256).read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFile, match="cut.jpg"):
        load_image(tmp_path / "cut.jpg")


def test_mislabelled_text_as_png(tmp_path):
    (tmp_path / "notes.png").write_text("this is not a picture")
    with pytest.raises(UnsupportedFile, match="notes.png: not a picture"):
        load_image(tmp_path / "notes.png")


def test_corrupt_png_body(tmp_path):
    data = bytearray(write_image(tmp_path / "ok.png", 128, 128).read_bytes())
    data[60:200] = b"\x00" * 140
    (tmp_path / "bad.png").write_bytes(bytes(data))
    with pytest.raises(CorruptFile, match="bad.png"):
        load_image(tmp_path / "bad.png")


def test_decompression_bomb_refused_before_decoding(tmp_path):
    Image.new("L", (4000, 4000)).save(tmp_path / "bomb.png")  # 16 MP of zeros compresses to a few KB
    assert (tmp_path / "bomb.png").stat().st_size < 100_000
    with pytest.raises(FileTooLarge, match="pixel limit"):
        load_image(tmp_path / "bomb.png", limits=Limits(max_pixels=1_000_000))


def test_file_size_limit(tmp_path):
    path = write_image(tmp_path / "a.png")
    with pytest.raises(FileTooLarge, match="byte limit"):
        load_image(path, limits=Limits(max_file_bytes=100))


def test_video_follows_reference_recipe(tmp_path):
    import cv2

    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (80, 60))
    for i in range(40):  # 4 s
        writer.write(np.full((60, 80, 3), i * 6, dtype=np.uint8))
    writer.release()
    out = load_image(path, PreprocessSpec(image_size=32))
    assert out.shape == (5 * 3, 3, 2, 32, 32)
    brightness = out[::3, 0, 0].mean(dim=(-1, -2))
    assert (brightness[1:] > brightness[:-1]).all()  # later clips show later (brighter) frames


def test_reduced_jpeg_decoding_is_asked_for_and_keeps_twice_the_input_a_side(tmp_path):
    """Reduced decoding (libjpeg's DCT scaling) is never the default; it keeps both sides at least 2 x S and
    leaves other formats and EXIF orientation alone."""
    from engine.preprocess.pixels import open_picture
    from engine.preprocess.reduced_jpeg import MARGIN

    spec = PreprocessSpec(image_size=48)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    photo = write_image(tmp_path / "photo.jpg", width=800, height=600, quality=95, exif=exif)
    assert open_picture(photo).size == (600, 800)
    reduced = open_picture(photo, jpeg_at_least=MARGIN * spec.image_size)
    assert reduced.size == (150, 200)  # 1/4: at 1/8 the short side (75) would be under 96
    exact, fast = load_image(photo, spec), load_image(photo, spec, reduced_jpeg=True)
    assert not torch.equal(exact, fast)
    assert torch.nn.functional.cosine_similarity(exact.flatten(), fast.flatten(), dim=0) > 0.999
    png = write_image(tmp_path / "photo.png", width=800, height=600)
    assert torch.equal(load_image(png, spec, reduced_jpeg=True), load_image(png, spec))
