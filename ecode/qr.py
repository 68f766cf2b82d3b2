"""QR rendering of an e-code: numeric mode, error-correction level M, version 6 (41 x 41 modules).

A 227-digit token needs 771 bits; version 6 at level M holds 864, version 5 only 688, so every e-code is a
version-6 symbol and everything except the data can be worked out once. The encoder here is specialised to
that one symbol: the function patterns, the format bits, the module order, the codeword interleaving and
the mask are folded into a single precomputed gather. A PNG then takes a fraction of a millisecond, dozens
of times less than ``qrcode.make()`` (see ``bench/bench_ecode_offline.py``), which also scores all eight
masks. ISO/IEC 18004 lets the encoder pick any mask: scoring only avoids unlucky patterns, and signed,
encrypted bytes look random under every mask. The output matches the ``qrcode`` library told the same
version, level and mask, and decodes with zxing-cpp (``tests/ecode/test_qr.py``).
"""

from __future__ import annotations

import struct
import zlib
from functools import cache
from operator import itemgetter

QR_VERSION = 6
SIZE = 17 + 4 * QR_VERSION  # 41 modules a side
QUIET_ZONE = 4
MASK_PATTERN = 2  # column % 3 == 0: the lowest mean ISO penalty over random tokens of the eight
MAX_DIGITS = 255  # numeric capacity of version 6 at level M

_DATA_CODEWORDS = 108
_BLOCKS = 4
_BLOCK_DATA = _DATA_CODEWORDS // _BLOCKS  # 27
_BLOCK_EC = 16
_DATA_BITS = (_DATA_CODEWORDS + _BLOCKS * _BLOCK_EC) * 8  # 1376
_FORMAT_EC_LEVEL_M = 0b00

_PAD_BYTES = bytes([0xEC, 0x11]) * (_DATA_CODEWORDS // 2)


def _gf_tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * 512, [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return exp, log


@cache
def _ec_table() -> tuple[int, ...]:
    """For each feedback byte, the 16 EC bytes it contributes, as one 128-bit integer."""
    exp, log = _gf_tables()

    def multiply(a: int, b: int) -> int:
        return exp[log[a] + log[b]] if a and b else 0

    # Generator polynomial (x - a^0)(x - a^1)...(x - a^15), highest coefficient dropped.
    divisor = [0] * (_BLOCK_EC - 1) + [1]
    root = 1
    for _ in range(_BLOCK_EC):
        for i in range(_BLOCK_EC):
            divisor[i] = multiply(divisor[i], root)
            if i + 1 < _BLOCK_EC:
                divisor[i] ^= divisor[i + 1]
        root = multiply(root, 2)
    return tuple(int.from_bytes(bytes(multiply(c, factor) for c in divisor), "big") for factor in range(256))


def _format_bits() -> int:
    data = _FORMAT_EC_LEVEL_M << 3 | MASK_PATTERN
    remainder = data
    for _ in range(10):
        remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537)
    return (data << 10 | remainder) ^ 0x5412


# ISO/IEC 18004 data masks: a module is inverted where the condition holds.
_MASKS = (
    lambda row, col: (row + col) % 2 == 0,
    lambda row, col: row % 2 == 0,
    lambda row, col: col % 3 == 0,
    lambda row, col: (row + col) % 3 == 0,
    lambda row, col: (row // 2 + col // 3) % 2 == 0,
    lambda row, col: row * col % 2 + row * col % 3 == 0,
    lambda row, col: (row * col % 2 + row * col % 3) % 2 == 0,
    lambda row, col: ((row + col) % 2 + row * col % 3) % 2 == 0,
)


@cache
def _gather() -> itemgetter:
    """The map from the data bit string to the final modules, row by row.

    The source it reads is ``bits + inverted bits + "01"`` where ``bits`` is the 1376-bit string of the 108
    data codewords followed by the 64 EC codewords, block after block (not interleaved).
    """
    function: dict[tuple[int, int], bool] = {}

    def put(row: int, col: int, dark: bool) -> None:
        function[row, col] = dark

    for top, left in ((0, 0), (0, SIZE - 7), (SIZE - 7, 0)):
        for dr in range(-1, 8):
            for dc in range(-1, 8):
                row, col = top + dr, left + dc
                if 0 <= row < SIZE and 0 <= col < SIZE:
                    ring = max(abs(dr - 3), abs(dc - 3))
                    put(row, col, ring != 2 and ring != 4)
    for i in range(8, SIZE - 8):
        put(6, i, i % 2 == 0)
        put(i, 6, i % 2 == 0)
    centre = SIZE - 7  # the one alignment pattern of version 6
    for dr in range(-2, 3):
        for dc in range(-2, 3):
            put(centre + dr, centre + dc, max(abs(dr), abs(dc)) != 1)
    fmt = _format_bits()
    for i in range(15):
        bit = bool(fmt >> i & 1)
        # One copy wraps the top-left finder (skipping the timing row and column); the other is split
        # between the top-right and bottom-left finders, so a damaged corner still leaves one readable.
        if i < 6:
            put(i, 8, bit)
        elif i < 8:
            put(i + 1, 8, bit)
        elif i == 8:
            put(8, 7, bit)
        else:
            put(8, 14 - i, bit)
        if i < 8:
            put(8, SIZE - 1 - i, bit)
        else:
            put(SIZE - 15 + i, 8, bit)
    put(SIZE - 8, 8, True)  # the dark module

    # Codeword k of the interleaved stream is byte `within` of block `block`.
    interleaved = [
        block * _BLOCK_DATA + within for within in range(_BLOCK_DATA) for block in range(_BLOCKS)
    ] + [
        _DATA_CODEWORDS + block * _BLOCK_EC + within
        for within in range(_BLOCK_EC)
        for block in range(_BLOCKS)
    ]

    inverted, zero, one = _DATA_BITS, 2 * _DATA_BITS, 2 * _DATA_BITS + 1
    source = {cell: one if dark else zero for cell, dark in function.items()}
    inverts = _MASKS[MASK_PATTERN]
    placed = 0
    right = SIZE - 1
    while right >= 1:
        if right == 6:  # the vertical timing pattern takes a whole column
            right = 5
        upward = (right + 1) & 2 == 0
        for vert in range(SIZE):
            row = SIZE - 1 - vert if upward else vert
            for col in (right, right - 1):
                if (row, col) in source:
                    continue
                flip = inverts(row, col)
                if placed < _DATA_BITS:
                    bit = interleaved[placed >> 3] * 8 + (placed & 7)
                    source[row, col] = bit + inverted if flip else bit
                else:  # remainder bits are 0 before masking
                    source[row, col] = one if flip else zero
                placed += 1
        right -= 2
    return itemgetter(*(source[row, col] for row in range(SIZE) for col in range(SIZE)))


_INVERT = str.maketrans("01", "10")


@cache
def _triplets() -> dict[str, str]:
    return {f"{value:03d}": f"{value:010b}" for value in range(1000)}


def _numeric_bits(digits: str) -> str:
    if not (0 < len(digits) <= MAX_DIGITS and digits.isascii() and digits.isdigit()):
        raise ValueError(f"an e-code QR holds 1 to {MAX_DIGITS} ASCII digits")
    count = len(digits)
    whole = count - count % 3
    triplets = _triplets()
    bits = "0001" + f"{count:010b}" + "".join([triplets[digits[i : i + 3]] for i in range(0, whole, 3)])
    if count % 3:
        bits += f"{int(digits[whole:]):0{3 * (count % 3) + 1}b}"
    bits += "0" * min(4, _DATA_CODEWORDS * 8 - len(bits))  # terminator
    return bits + "0" * (-len(bits) % 8)


_EC_MASK = (1 << 8 * _BLOCK_EC) - 1
_EC_SHIFT = 8 * _BLOCK_EC - 8


def _modules(digits: str) -> str:
    """The symbol as SIZE * SIZE characters, row by row, ``1`` for a dark module."""
    bits = _numeric_bits(digits)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big")
    data += _PAD_BYTES[: _DATA_CODEWORDS - len(data)]
    table = _ec_table()
    ec = 0
    for start in range(0, _DATA_CODEWORDS, _BLOCK_DATA):
        remainder = 0
        for byte in data[start : start + _BLOCK_DATA]:
            remainder = (remainder << 8 & _EC_MASK) ^ table[byte ^ remainder >> _EC_SHIFT]
        ec = ec << 8 * _BLOCK_EC | remainder
    stream = f"{int.from_bytes(data, 'big') << _BLOCKS * _BLOCK_EC * 8 | ec:0{_DATA_BITS}b}"
    return "".join(_gather()(stream + stream.translate(_INVERT) + "01"))


def matrix(digits: str) -> list[bytes]:
    """Return the 41 rows of the QR symbol for ``digits``, without quiet zone: 1 for dark, 0 for light.

    Raise ``ValueError`` unless ``digits`` is 1 to 255 ASCII digits.
    """
    modules = _modules(digits).encode("ascii").translate(bytes.maketrans(b"01", b"\x00\x01"))
    return [modules[i : i + SIZE] for i in range(0, SIZE * SIZE, SIZE)]


def _rows(modules: str, separator: str, left: str, right: str) -> str:
    return separator.join([left + modules[i : i + SIZE] + right for i in range(0, SIZE * SIZE, SIZE)])


_SVG_MERGES = tuple(
    pair
    for length in (4, 3, 2)
    for pair in (("h1" * length, f"h{length}"), ("m1 0" * length, f"m{length} 0"))
)


def render_svg(digits: str, *, module_px: int = 8) -> str:
    """Return a standalone SVG of the QR symbol for ``digits``: white background, quiet zone of 4 modules.

    The dark modules are one ``<path>`` in module units, so the image scales cleanly; ``module_px`` only sets
    the intrinsic width and height.
    """
    # Each row is one horizontal line one module thick (h draws, m skips), built with C-speed replaces
    # rather than a Python loop over runs. Merging runs of up to 4 takes the path from about 5.2 kB to
    # 3.0 kB; longer merges save little more and would cost a replace each.
    path = (
        _rows(_modules(digits), "\n", "", "")
        .replace("0", "x")
        .replace("1", "h1")
        .replace("x", "m1 0")
        .replace("\n", f"m-{SIZE} 1")
    )
    for run, merged in _SVG_MERGES:
        path = path.replace(run, merged)
    full = SIZE + 2 * QUIET_ZONE
    side = full * module_px
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}" viewBox="0 0 {full} {full}"'
        f' shape-rendering="crispEdges"><rect width="{full}" height="{full}" fill="#fff"/>'
        f'<path fill="none" stroke="#000" stroke-width="1" d="M{QUIET_ZONE} {QUIET_ZONE}.5{path}"/></svg>'
    )


@cache
def _png_plan(scale: int, border: int) -> tuple[int, str, tuple[bytes, ...], bytes]:
    """Scanline width in bytes, right margin, 8-module-to-pixels table and a light scanline for a size."""
    per_row = SIZE + 2 * border
    row_bytes = (per_row * scale + 7) // 8
    right = "0" * (border + -per_row % 8)  # light modules up to a whole byte of modules
    # In greyscale PNG 0 is black, so a dark module becomes `scale` zero bits.
    spread = tuple(
        int(
            f"{value:08b}".translate(_INVERT).replace("0", "0" * scale).replace("1", "1" * scale), 2
        ).to_bytes(scale, "big")
        for value in range(256)
    )
    return row_bytes, right, spread, b"\x00" + b"\xff" * row_bytes


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def render_png(digits: str, *, scale: int = 8, border: int = QUIET_ZONE) -> bytes:
    """Return a 1-bit greyscale PNG of the QR symbol for ``digits``, ``scale`` pixels per module.

    ``border`` is the quiet zone in modules; readers expect at least 4.
    """
    if scale < 1 or border < 0:
        raise ValueError("scale must be positive and border not negative")
    row_bytes, right, spread, light = _png_plan(scale, border)
    bits = _rows(_modules(digits), "", "0" * border, right)
    packed = int(bits, 2).to_bytes(len(bits) // 8, "big")
    pixels = b"".join(map(spread.__getitem__, packed))
    stride = len(pixels) // SIZE
    margin = light * (border * scale)
    lines = [(b"\x00" + pixels[i : i + row_bytes]) * scale for i in range(0, len(pixels), stride)]
    width = (SIZE + 2 * border) * scale
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, width, 1, 0, 0, 0, 0)),
            # Level 1: a fifth of the time of the default level for a PNG of about 1 kB instead of 0.5 kB.
            _png_chunk(b"IDAT", zlib.compress(b"".join([margin, *lines, margin]), 1)),
            _png_chunk(b"IEND", b""),
        )
    )
