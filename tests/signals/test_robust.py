"""Robust matching: the edits that defeat plain PDQ are matched, distinct photos are not."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from haven.signals import (
    CROPS,
    DIHEDRAL,
    QUALITY_FLOOR,
    WHOLE,
    BankFormatError,
    CorruptImageError,
    ImageTooSmallError,
    NotAnImageError,
    RobustMatcher,
    pdq_hash,
    query_signals,
    query_signals_and_pdq,
    robust_signals,
    robust_signals_and_pdq,
)
from haven.signals import load_bank as load_bank_lines

from .photolike import photo_like

Edit = Callable[[Image.Image], Image.Image]


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _crop(fractions: tuple[float, float, float, float]) -> Edit:
    def edit(im: Image.Image) -> Image.Image:
        w, h = im.size
        left, top, right, bottom = fractions
        return im.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))

    return edit


def _pad_square(im: Image.Image) -> Image.Image:
    side = max(im.size)
    out = Image.new("RGB", (side, side), (0, 0, 0))
    out.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
    return out


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _meme(im: Image.Image) -> Image.Image:
    band = max(40, im.height // 4)
    out = Image.new("RGB", (im.width, im.height + band), (255, 255, 255))
    out.paste(im, (0, band))
    ImageDraw.Draw(out).text((im.width // 4, band // 6), "LOL WUT", fill=(0, 0, 0), font=_font(band * 2 // 3))
    return out


def _screenshot(im: Image.Image) -> Image.Image:
    """The photo letterboxed in black inside an app page: bars, cards and lines of text around it."""
    page = Image.new("RGB", (im.width * 2, im.height * 2), (240, 242, 245))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, page.width, 50), fill=(255, 255, 255))
    draw.text((20, 12), "Timeline   Messages   Groups", fill=(30, 30, 30), font=_font(22))
    card = (im.width // 2 - 20, 90, im.width // 2 + im.width + 60, 90 + im.height + 140)
    draw.rectangle(card, fill=(255, 255, 255))
    draw.text((card[0] + 20, card[1] + 15), "Someone posted a photo", fill=(60, 60, 60), font=_font(18))
    slot = Image.new("RGB", (im.width + 40, im.height), (0, 0, 0))
    slot.paste(im, (20, 0))
    page.paste(slot, (card[0] + 20, card[1] + 60))
    draw.text((card[0] + 20, card[3] - 40), "Like   Comment   Share", fill=(90, 90, 90), font=_font(18))
    draw.rectangle((page.width - 300, 90, page.width - 40, 400), fill=(255, 255, 255))
    draw.text((page.width - 280, 110), "Sponsored", fill=(60, 60, 60), font=_font(18))
    return page


def _rotate(degrees: float) -> Edit:
    """Turn, then keep the largest upright rectangle inside (as Meta's AugLy ``rotate`` does)."""

    def edit(im: Image.Image) -> Image.Image:
        w, h = im.size
        a = math.radians(abs(degrees))
        cos_2a = math.cos(a) ** 2 - math.sin(a) ** 2
        wr = (w * math.cos(a) - h * math.sin(a)) / cos_2a
        hr = (h * math.cos(a) - w * math.sin(a)) / cos_2a
        turned = im.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True)
        cx, cy = turned.width / 2, turned.height / 2
        return turned.crop((int(cx - wr / 2), int(cy - hr / 2), int(cx + wr / 2), int(cy + hr / 2)))

    return edit


def _emoji(im: Image.Image) -> Image.Image:
    out = im.copy()
    size = round(0.15 * im.height)
    x, y = round(0.4 * im.width), round(0.8 * im.height)
    draw = ImageDraw.Draw(out)
    draw.ellipse((x, y, x + size, y + size), fill=(255, 204, 77))
    draw.ellipse((x + size // 4, y + size // 3, x + size // 4 + size // 8, y + size // 2), fill=(0, 0, 0))
    draw.arc(
        (x + size // 5, y + size // 3, x + 4 * size // 5, y + 4 * size // 5), 20, 160, fill=(0, 0, 0), width=4
    )
    return out


def _text(im: Image.Image) -> Image.Image:
    out = im.copy()
    size = round(0.15 * min(im.size))
    ImageDraw.Draw(out).text((0, im.height // 2), "look at her lol", fill=(255, 0, 0), font=_font(size))
    return out


EDITS_PLAIN_PDQ_MISSES: dict[str, Edit] = {
    "crop centre 80%": _crop((0.1, 0.1, 0.9, 0.9)),
    "crop top-left 60%": _crop((0.0, 0.0, 0.6, 0.6)),
    "crop bottom-right 60%": _crop((0.4, 0.4, 1.0, 1.0)),
    "pad square": _pad_square,
    "meme caption band": _meme,
    "screenshot frame": _screenshot,
    "rotate 10 degrees": _rotate(10.0),
    "rotate -10 degrees": _rotate(-10.0),
    # Between the stored crops and angles: matched by recropping and the angle grid.
    "crop centre 70%": _crop((0.15, 0.15, 0.85, 0.85)),
    "crop bottom-right 70%": _crop((0.3, 0.3, 1.0, 1.0)),
    "rotate 7 degrees": _rotate(7.0),
}

EDITS_ALSO_MATCHED: dict[str, Edit] = {
    "re-encode q20": lambda im: Image.open(io.BytesIO(_jpeg(im, 20))),
    "half size": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.BILINEAR),
    "grayscale": lambda im: im.convert("L").convert("RGB"),
    "mirror": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "rotate 90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "emoji overlay": _emoji,
    "text overlay": _text,
}


def _thumbnail(im: Image.Image, side: int) -> Image.Image:
    out = im.convert("RGB")
    out.thumbnail((side, side), Image.Resampling.LANCZOS)
    return out


@pytest.fixture(scope="module")
def photos(request: pytest.FixtureRequest) -> dict[str, Image.Image]:
    vectors: Path = request.getfixturevalue("vectors")
    pdq = vectors / "pdq"
    rng = np.random.default_rng(21)
    generated = photo_like(rng, max_side=480, min_side=400)
    return {
        "bridge": Image.open(pdq / "reg-test-input" / "dih" / "bridge-1-original.jpg").convert("RGB"),
        "phone": _thumbnail(Image.open(pdq / "reg-test-input" / "exif-rotn" / "exif-rotn-1.jpg"), 800),
        "generated": Image.fromarray(generated),
    }


@pytest.fixture(scope="module")
def matcher(photos: dict[str, Image.Image]) -> RobustMatcher:
    bank = RobustMatcher()
    for name, im in photos.items():
        bank.add(name, robust_signals(np.asarray(im)))
    return bank


def test_the_first_signal_is_the_plain_pdq_and_the_rest_are_named_crops(
    photos: dict[str, Image.Image],
) -> None:
    signals = robust_signals(np.asarray(photos["bridge"]))
    assert signals[0].kind == WHOLE
    assert signals[0].hash == pdq_hash(np.asarray(photos["bridge"])).hash
    kinds = [s.kind for s in signals[1:]]
    assert kinds == [k for k in CROPS if k in kinds]
    assert all(s.quality >= QUALITY_FLOOR for s in signals[1:])


def test_the_signals_are_deterministic_for_the_same_file(photos: dict[str, Image.Image]) -> None:
    data = _jpeg(photos["phone"])
    assert robust_signals(data) == robust_signals(data)


def test_flat_crops_are_not_stored() -> None:
    rng = np.random.default_rng(3)
    picture = np.full((400, 400, 3), 128, dtype=np.uint8)
    picture[200:] = photo_like(rng, max_side=400, min_side=400)[:200]
    kinds = {s.kind for s in robust_signals(picture)}
    assert "top50" not in kinds
    assert "bottom50" in kinds


_SMOOTH_IN_A_FRAME = pytest.mark.xfail(
    strict=True,
    reason=(
        "a smooth picture in a busy page: where it is as light as the page its slot's edges break "
        "off, and the page's 'Sponsored' box covers its top right, so neither the edges nor the "
        "flat-gap cut isolate it"
    ),
)
_CASES = [
    pytest.param(photo, edit, marks=_SMOOTH_IN_A_FRAME)
    if (photo, edit) == ("generated", "screenshot frame")
    else pytest.param(photo, edit)
    for photo in ("bridge", "phone", "generated")
    for edit in EDITS_PLAIN_PDQ_MISSES
]


@pytest.mark.parametrize(("photo", "edit_name"), _CASES)
def test_edits_that_defeat_plain_pdq_are_matched_to_their_photo_only(
    photos: dict[str, Image.Image], matcher: RobustMatcher, photo: str, edit_name: str
) -> None:
    edited = _jpeg(EDITS_PLAIN_PDQ_MISSES[edit_name](photos[photo]))
    # Without the robust signals this edit is lost: the test would fail if they did nothing.
    assert pdq_hash(edited).hash.distance(pdq_hash(np.asarray(photos[photo])).hash) > 31
    found = matcher.match(query_signals(edited))
    assert [m.item for m in found] == [photo]
    assert found[0].distance <= matcher.thresholds[found[0].kind]


@pytest.mark.parametrize("edit_name", list(EDITS_ALSO_MATCHED))
def test_edits_plain_pdq_survives_stay_matched(
    photos: dict[str, Image.Image], matcher: RobustMatcher, edit_name: str
) -> None:
    for photo, im in photos.items():
        found = matcher.match(query_signals(_jpeg(EDITS_ALSO_MATCHED[edit_name](im))))
        assert [m.item for m in found] == [photo], photo


def test_a_match_reports_the_bank_kind_and_the_query_candidate(
    photos: dict[str, Image.Image], matcher: RobustMatcher
) -> None:
    (match,) = matcher.match(query_signals(_jpeg(_crop((0.0, 0.0, 0.6, 0.6))(photos["bridge"]))))
    assert match.kind == "corner60_tl"
    assert match.candidate == "crop:corner60_tl" or match.candidate == "whole"


def test_unrelated_pictures_match_nothing(matcher: RobustMatcher) -> None:
    rng = np.random.default_rng(77)
    for _ in range(5):
        assert matcher.match(query_signals(photo_like(rng, max_side=500, min_side=300))) == []


def test_a_flat_query_is_not_matched_even_against_flat_bank_entries() -> None:
    bank = RobustMatcher()
    flat = np.full((300, 300, 3), 200, dtype=np.uint8)
    bank.add("flat", robust_signals(flat))
    assert query_signals(flat) == []
    assert bank.match(query_signals(flat)) == []


def test_a_bank_with_only_dihedral_variants_still_matches_a_rotated_query(
    photos: dict[str, Image.Image],
) -> None:
    im = photos["bridge"]
    result = pdq_hash(np.asarray(im))
    record = {"path": "b.jpg", "pdq": str(result.hash), "pdq_dihedral": [str(h) for h in result.dihedral()]}
    bank = load_bank_lines([json.dumps(record)])
    found = bank.match(query_signals(np.asarray(im.transpose(Image.Transpose.ROTATE_270))))
    assert [m.item for m in found] == ["b.jpg"]
    assert found[0].kind in (WHOLE, DIHEDRAL)


def test_a_corrupt_image_gets_a_clear_error(photos: dict[str, Image.Image]) -> None:
    data = _jpeg(photos["generated"])
    truncated = data[: len(data) // 2]
    with pytest.raises(CorruptImageError, match="truncated"):
        query_signals(truncated)
    with pytest.raises(CorruptImageError, match="truncated"):
        robust_signals(truncated)
    with pytest.raises(NotAnImageError):
        query_signals(b"this is not a picture")


def test_a_tiny_image_gets_a_clear_error() -> None:
    with pytest.raises(ImageTooSmallError, match="at least 5 x 5"):
        robust_signals(np.zeros((3, 3, 3), dtype=np.uint8))
    with pytest.raises(ImageTooSmallError):
        query_signals(np.zeros((4, 40, 3), dtype=np.uint8))


def test_a_small_picture_keeps_its_pdq_and_skips_crops_too_small_to_hash() -> None:
    rng = np.random.default_rng(5)
    signals = robust_signals(photo_like(rng, max_side=30, min_side=30))
    assert signals[0].kind == WHOLE
    assert all(s.kind == WHOLE for s in signals)


def test_bank_lines_with_wrong_hex_name_the_line() -> None:
    good = json.dumps({"path": "a.jpg", "pdq": "0" * 64, "quality": 100})
    with pytest.raises(BankFormatError, match=r"line 2: .*PDQ"):
        load_bank_lines([good, json.dumps({"path": "b.jpg", "pdq": "xyz"})])
    bad_extra = {"path": "c.jpg", "pdq": "0" * 64, "extra": [{"kind": "centre80", "pdq": "12"}]}
    with pytest.raises(BankFormatError, match="line 1"):
        load_bank_lines([json.dumps(bad_extra)])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 1: not JSON"),
        ("[1, 2]", "line 1: expected a JSON object"),
        (json.dumps({"pdq": "0" * 64}), "line 1: no 'path'"),
        (
            json.dumps({"path": "a", "pdq": "0" * 64, "extra": [{"kind": "elsewhere", "pdq": "0" * 64}]}),
            "unknown",
        ),
        (json.dumps({"path": "a"}), "no 'pdq'"),
    ],
)
def test_malformed_bank_lines_are_refused_with_a_clear_message(line: str, message: str) -> None:
    with pytest.raises(BankFormatError, match=message):
        load_bank_lines([line])


def test_bank_lines_that_report_a_failed_file_are_skipped() -> None:
    bank = load_bank_lines([json.dumps({"path": "broken.jpg", "error": "truncated"}), ""])
    assert len(bank) == 0


def test_thresholds_for_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown signal kinds"):
        RobustMatcher({"pdq": 31, "centre99": 20})


def _photo_with(rng: np.random.Generator, flat: str) -> Image.Image:
    """A generated photo whose top fifth (``top``) or left fifth (``left``) is plain black or white."""
    picture = photo_like(rng, max_side=480, min_side=400)
    rows, cols = picture.shape[:2]
    if flat == "top-black":
        picture[: rows // 5] = 0
    elif flat == "top-white":
        picture[: rows // 5] = 255
    elif flat == "left-black":
        picture[:, : cols // 5] = 0
    return Image.fromarray(picture)


def _one_item_bank(name: str, im: Image.Image) -> RobustMatcher:
    bank = RobustMatcher()
    bank.add(name, robust_signals(np.asarray(im)))
    return bank


def test_a_flipped_fine_texture_is_matched_where_turning_its_coefficients_is_not_enough() -> None:
    rng = np.random.default_rng(0)
    # Grains of 2 x 2 pixels on a 512-pixel side: PDQ's box filter window is 4 pixels wide.
    grains = np.kron(rng.integers(0, 256, (256, 256), dtype=np.uint8), np.ones((2, 2), dtype=np.uint8))
    texture = np.ascontiguousarray(np.repeat(grains[:, :, None], 3, axis=2))
    flipped = np.ascontiguousarray(texture[:, ::-1])
    # PDQ's box filter is off-centre by half a pixel: the turned coefficients of the
    # flipped texture are far from the texture's own hash.
    turned = pdq_hash(flipped).dihedral()
    assert min(h.distance(pdq_hash(texture).hash) for h in turned) > 31
    found = _one_item_bank("texture", Image.fromarray(texture)).match(query_signals(flipped))
    assert [m.item for m in found] == ["texture"]


def test_a_padded_photo_whose_own_left_edge_is_black_is_matched() -> None:
    im = _photo_with(np.random.default_rng(31), "left-black")
    edited = _jpeg(_pad_square(im))
    assert pdq_hash(edited).hash.distance(pdq_hash(np.asarray(im)).hash) > 31
    found = _one_item_bank("photo", im).match(query_signals(edited))
    assert [m.item for m in found] == ["photo"]


@pytest.mark.parametrize("flat", ["top-black", "top-white"])
def test_a_caption_band_is_cut_off_where_the_photo_starts_with_flat_rows(flat: str) -> None:
    # A white photo top under a white band: only the caption, centred in its band, tells
    # where the band ends.
    im = _photo_with(np.random.default_rng(32), flat)
    edited = _jpeg(_meme_centred(im))
    assert pdq_hash(edited).hash.distance(pdq_hash(np.asarray(im)).hash) > 31
    found = _one_item_bank("photo", im).match(query_signals(edited))
    assert [m.item for m in found] == ["photo"]


def _meme_centred(im: Image.Image) -> Image.Image:
    band = max(40, im.height // 4)
    out = Image.new("RGB", (im.width, im.height + band), (255, 255, 255))
    out.paste(im, (0, band))
    draw = ImageDraw.Draw(out)
    font = _font(band // 2)
    left, top, right, bottom = draw.textbbox((0, 0), "LOL WUT", font=font)
    xy = ((im.width - (right - left)) // 2 - left, (band - (bottom - top)) // 2 - top)
    draw.text(xy, "LOL WUT", fill=(0, 0, 0), font=font)
    return out


def _page_with_slot(im: Image.Image) -> Image.Image:
    """A web page with the photo letterboxed in a wide black slot; page elements touch the slot."""
    slot_w, slot_h = round(im.height * 1.8), im.height
    page = Image.new("RGB", (slot_w + 700, slot_h + 400), (245, 246, 248))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, 200, page.height), fill=(235, 236, 240))
    for y in range(40, page.height - 40, 45):
        draw.text((20, y), "Menu item", fill=(60, 60, 60), font=_font(18))
    card = (240, 120, 240 + slot_w + 32, 120 + slot_h + 150)
    draw.rectangle(card, fill=(255, 255, 255))
    draw.text((card[0] + 16, card[1] + 20), "Someone  a minute ago", fill=(40, 40, 40), font=_font(20))
    slot = Image.new("RGB", (slot_w, slot_h), (0, 0, 0))
    slot.paste(im, ((slot_w - im.width) // 2, 0))
    page.paste(slot, (card[0] + 16, card[1] + 70))
    # A row of buttons right under the slot, touching it.
    draw.rectangle(
        (card[0] + 16, card[1] + 70 + slot_h, card[0] + 16 + slot_w, card[1] + 100 + slot_h),
        fill=(220, 225, 235),
    )
    draw.text(
        (card[0] + 30, card[1] + 75 + slot_h), "Like   Comment   Share", fill=(20, 20, 20), font=_font(18)
    )
    return page


def test_a_photo_in_the_slot_of_a_web_page_is_found_by_its_edges(photos: dict[str, Image.Image]) -> None:
    for name in ("bridge", "generated"):
        im = photos[name]
        edited = _jpeg(_page_with_slot(im))
        assert pdq_hash(edited).hash.distance(pdq_hash(np.asarray(im)).hash) > 31
        found = _one_item_bank(name, im).match(query_signals(edited))
        assert [m.item for m in found] == [name], name


def test_one_decode_gives_the_same_pdq_and_signals_as_two(vectors: Path) -> None:
    data = (vectors / "pdq" / "bridge-mods" / "aaa-orig.jpg").read_bytes()
    plain = pdq_hash(data)
    whole, signals = robust_signals_and_pdq(data)
    assert (whole.hash, whole.quality) == (plain.hash, plain.quality)
    assert whole.dihedral() == plain.dihedral()
    assert signals == robust_signals(data)
    whole, query = query_signals_and_pdq(data)
    assert (whole.hash, whole.quality) == (plain.hash, plain.quality)
    assert query == query_signals(data)
