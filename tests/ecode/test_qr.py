import io
import re
import secrets
import xml.etree.ElementTree as ET

import pytest
import qrcode
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from ecode.qr import MASK_PATTERN, MAX_DIGITS, QUIET_ZONE, SIZE, matrix, render_png, render_svg
from ecode.token import encrypt_subject, issue_token, pack_claims, to_digits


def real_token() -> str:
    raw = issue_token(
        private_key=Ed25519PrivateKey.generate(),
        kid=1,
        iat=1_767_225_600,
        subject=encrypt_subject(bytes(16), 42),
        claims=pack_claims(110000, 1, True),
    )
    return to_digits(raw)


TOKEN = real_token()
SAMPLES = [TOKEN, "9" * 227, "1", "12", "123", "0123456789" * 25 + "01234"]


def decode(image: Image.Image) -> zxingcpp.Barcode:
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(results) == 1
    return results[0]


def reference_matrix(digits: str) -> list[bytes]:
    """The same symbol from the qrcode library, told the version, level and mask we use."""
    code = qrcode.QRCode(version=6, error_correction=ERROR_CORRECT_M, border=0, mask_pattern=MASK_PATTERN)
    code.add_data(digits)
    code.make(fit=False)
    return [bytes(map(int, row)) for row in code.modules]


def test_matrix_is_41_rows_of_41_modules():
    rows = matrix(TOKEN)
    assert len(rows) == SIZE == 41
    assert all(len(row) == SIZE and set(row) <= {0, 1} for row in rows)


@pytest.mark.parametrize("digits", SAMPLES, ids=lambda digits: f"{len(digits)}-digits")
def test_matrix_matches_the_qrcode_library(digits):
    assert matrix(digits) == reference_matrix(digits)


def test_random_tokens_match_the_qrcode_library():
    for _ in range(20):
        digits = f"{secrets.randbits(744) | 1 << 744:0227d}"
        assert matrix(digits) == reference_matrix(digits)


@pytest.mark.parametrize("digits", ["", "12a", "１２３", " 123", "1" * (MAX_DIGITS + 1)])
def test_only_1_to_255_ascii_digits_are_accepted(digits):
    for render in (matrix, render_png, render_svg):
        with pytest.raises(ValueError):
            render(digits)


def test_png_decodes_to_exactly_the_digits_as_version_6_level_m():
    result = decode(Image.open(io.BytesIO(render_png(TOKEN))))
    assert result.text == TOKEN
    assert result.symbology_identifier == "]Q1"
    assert result.ec_level == "M"
    assert int(result.extra["Version"]) <= 6
    assert result.extra["DataMask"] == MASK_PATTERN


@pytest.mark.parametrize(("scale", "border"), [(8, 4), (1, 4), (3, 4), (5, 0), (7, 3), (10, 4)])
def test_png_pixels_are_the_matrix_scaled_with_a_light_border(scale, border):
    image = Image.open(io.BytesIO(render_png(TOKEN, scale=scale, border=border)))
    full = SIZE + 2 * border
    assert image.format == "PNG" and image.mode == "1" and image.size == (full * scale, full * scale)
    padded = (
        bytes(full * border)
        + b"".join(bytes(border) + row + bytes(border) for row in matrix(TOKEN))
        + bytes(full * border)
    )
    expected = Image.frombytes("L", (full, full), bytes(0 if dark else 255 for dark in padded))
    expected = expected.resize(image.size, Image.Resampling.NEAREST)
    assert image.convert("L").tobytes() == expected.tobytes()


@pytest.mark.parametrize("scale", [0, -1])
def test_png_refuses_a_scale_below_1(scale):
    with pytest.raises(ValueError):
        render_png(TOKEN, scale=scale)


# All zeros leaves whole RS blocks empty, which the qrcode library cannot encode, so it is only decoded here.
@pytest.mark.parametrize("digits", [*SAMPLES, "0" * 227], ids=lambda digits: f"{len(digits)}-digits")
def test_png_decodes_for_every_sample(digits):
    assert decode(Image.open(io.BytesIO(render_png(digits)))).text == digits


def svg_modules(svg: str) -> tuple[ET.Element, list[bytes]]:
    """Parse the SVG and replay its path, returning the root and the dark modules including the quiet zone."""
    root = ET.fromstring(svg)
    full = SIZE + 2 * QUIET_ZONE
    grid = [bytearray(full) for _ in range(full)]
    (path,) = root.findall("{http://www.w3.org/2000/svg}path")
    x = y = 0.0
    for command, dx, dy in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", path.get("d")):
        if command == "M":
            x, y = float(dx), float(dy)
        elif command == "m":
            x, y = x + float(dx), y + float(dy)
        else:
            for col in range(int(x), int(x) + int(dx)):
                grid[int(y)][col] = 1
            x += float(dx)
    return root, [bytes(row) for row in grid]


def test_svg_is_xml_with_one_path_that_draws_the_matrix():
    svg = render_svg(TOKEN, module_px=4)
    root, grid = svg_modules(svg)
    full = SIZE + 2 * QUIET_ZONE
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("width") == root.get("height") == str(full * 4)
    assert root.get("viewBox") == f"0 0 {full} {full}"
    assert root.get("shape-rendering") == "crispEdges"
    assert [row[QUIET_ZONE:-QUIET_ZONE] for row in grid[QUIET_ZONE:-QUIET_ZONE]] == matrix(TOKEN)
    assert not any(any(row) for row in grid[:QUIET_ZONE] + grid[-QUIET_ZONE:])
    assert not any(any(row[:QUIET_ZONE] + row[-QUIET_ZONE:]) for row in grid)
    assert len(svg) < 4000


def test_svg_path_drawn_as_pixels_decodes_to_the_digits():
    _, grid = svg_modules(render_svg(TOKEN))
    scale = 6
    image = Image.new("L", (len(grid) * scale,) * 2, 255)
    for row, line in enumerate(grid):
        for col, dark in enumerate(line):
            if dark:
                image.paste(0, (col * scale, row * scale, (col + 1) * scale, (row + 1) * scale))
    assert decode(image).text == TOKEN
