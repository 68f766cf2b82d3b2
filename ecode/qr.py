"""QR rendering of an e-code: numeric mode, error-correction level M, version 6 (41 x 41 modules).

A 227-digit token needs 771 bits; version 6 at level M holds 864, version 5 only 688, so every e-code is a
version-6 symbol and everything except the data can be worked out once. The encoder here is specialised to
that one symbol: the function patterns, the format bits, the module order, the codeword interleaving and
the mask are folded into a single precomputed gather, which makes a symbol about a hundred times cheaper
than a general encoder that also scores all eight masks. ISO/IEC 18004 lets the encoder pick any mask; the
scoring only avoids unlucky patterns, and signed, encrypted bytes look random under every mask.
"""

from __future__ import annotations

import re
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
_DARK_RUN = re.compile("1+")


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


def _mask(row: int, col: int) -> bool:
    return (
        (row + col) % 2 == 0,
        row % 2 == 0,
        col % 3 == 0,
        (row + col) % 3 == 0,
        (row // 2 + col // 3) % 2 == 0,
        row * col % 2 + row * col % 3 == 0,
        (row * col % 2 + row * col % 3) % 2 == 0,
        ((row + col) % 2 + row * col % 3) % 2 == 0,
    )[MASK_PATTERN]


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
    ] + [_DATA_CODEWORDS + block * _BLOCK_EC + within for within in range(_BLOCK_EC) for block in range(_BLOCKS)]

    inverted, zero, one = _DATA_BITS, 2 * _DATA_BITS, 2 * _DATA_BITS + 1
    source = {cell: one if dark else zero for cell, dark in function.items()}
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
                flip = _mask(row, col)
                if placed < _DATA_BITS:
                    bit = interleaved[placed >> 3] * 8 + (placed & 7)
                    source[row, col] = bit + inverted if flip else bit
                else:  # remainder bits are 0 before masking
                    source[row, col] = one if flip else zero
                placed += 1
        right -= 2
    return itemgetter(*(source[row, col] for row in range(SIZE) for col in range(SIZE)))


_INVERT = str.maketrans("01", "10")


def _numeric_bits(digits: str) -> str:
    if not (0 < len(digits) <= MAX_DIGITS and digits.isascii() and digits.isdigit()):
        raise ValueError(f"an e-code QR holds 1 to {MAX_DIGITS} ASCII digits")
    count = len(digits)
    whole = count - count % 3
    parts = ["0001", f"{count:010b}"]
    parts += [f"{int(digits[i : i + 3]):010b}" for i in range(0, whole, 3)]
    if count % 3:
        parts.append(f"{int(digits[whole:]):0{3 * (count % 3) + 1}b}")
    bits = "".join(parts)
    bits += "0" * min(4, _DATA_CODEWORDS * 8 - len(bits))  # terminator
    bits += "0" * (-len(bits) % 8)
    return bits


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
            remainder = (remainder << 8 & (1 << 128) - 1) ^ table[byte ^ remainder >> 120]
        ec = ec << 128 | remainder
    stream = f"{int.from_bytes(data, 'big') << _BLOCKS * _BLOCK_EC * 8 | ec:0{_DATA_BITS}b}"
    return "".join(_gather()(stream + stream.translate(_INVERT) + "01"))


def matrix(digits: str) -> list[bytes]:
    """Return the 41 rows of the QR symbol for ``digits``, without quiet zone; each byte is 1 for dark, 0 for light.

    Raise ``ValueError`` unless ``digits`` is 1 to 255 ASCII digits.
    """
    modules = _modules(digits).encode("ascii").translate(bytes.maketrans(b"01", b"\x00\x01"))
    return [modules[i : i + SIZE] for i in range(0, SIZE * SIZE, SIZE)]


def render_svg(digits: str, *, module_px: int = 8) -> str:
    """Return a standalone SVG of the QR symbol for ``digits``: white background, quiet zone of 4 modules.

    The dark modules are one ``<path>`` in module units, so the image scales cleanly; ``module_px`` only sets
    the intrinsic width and height.
    """
    modules = _modules(digits)
    full = SIZE + 2 * QUIET_ZONE
    runs = []
    for row in range(SIZE):
        line = modules[row * SIZE : (row + 1) * SIZE]
        for run in _DARK_RUN.finditer(line):
            width = run.end() - run.start()
            runs.append(f"M{run.start() + QUIET_ZONE} {row + QUIET_ZONE}h{width}v1h-{width}z")
    side = full * module_px
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}" viewBox="0 0 {full} {full}"'
        f' shape-rendering="crispEdges"><rect width="{full}" height="{full}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(runs)}"/></svg>'
    )


@cache
def _png_rows(scale: int, border: int) -> tuple[dict[int, str], bytes]:
    """The translation of one module row into scanline bits, and a light scanline, for a scale and border."""
    width = (SIZE + 2 * border) * scale
    light = b"\x00" + b"\xff" * ((width + 7) // 8)
    # In a greyscale PNG 0 is black: a dark module becomes `scale` zero bits.
    return str.maketrans({"1": "0" * scale, "0": "1" * scale}), light


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def render_png(digits: str, *, scale: int = 8, border: int = QUIET_ZONE) -> bytes:
    """Return a 1-bit greyscale PNG of the QR symbol for ``digits``, ``scale`` pixels per module.

    ``border`` is the quiet zone in modules; readers expect at least 4.
    """
    if scale < 1 or border < 0:
        raise ValueError("scale must be positive and border not negative")
    modules = _modules(digits)
    translation, light = _png_rows(scale, border)
    width = (SIZE + 2 * border) * scale
    row_bytes = len(light) - 1
    padding = "1" * (row_bytes * 8 - width)
    margin = "0" * border
    lines = [light * (border * scale)]
    for row in range(SIZE):
        bits = (margin + modules[row * SIZE : (row + 1) * SIZE] + margin).translate(translation) + padding
        lines.append((b"\x00" + int(bits, 2).to_bytes(row_bytes, "big")) * scale)
    lines.append(light * (border * scale))
    header = struct.pack(">IIBBBBB", width, width, 1, 0, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(b"".join(lines), 6)),
            _png_chunk(b"IEND", b""),
        )
    )
