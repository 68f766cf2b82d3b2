"""Writes static/favicon.ico from the design of static/web/img/favicon.svg (a white cross on a blue rounded
square), at 16, 32 and 48 px. Run it again after changing the design: `python scripts/make_favicon.py`."""

from pathlib import Path

from PIL import Image, ImageDraw

BLUE, WHITE = (0x16, 0x77, 0xFF, 255), (255, 255, 255, 255)
SCALE = 16  # draw the 32-unit design at 512 px, then shrink: smooth edges at every size
TARGET = Path(__file__).resolve().parent.parent / "static" / "favicon.ico"


def draw() -> Image.Image:
    size = 32 * SCALE
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 0, size - 1, size - 1), radius=8 * SCALE, fill=BLUE)
    half = 2 * SCALE  # stroke width 4, round caps
    for x0, y0, x1, y1 in ((16, 7, 16, 25), (7, 16, 25, 16)):
        x0, y0, x1, y1 = (v * SCALE for v in (x0, y0, x1, y1))
        pen.rectangle(
            (x0 - half, y0, x1 + half, y1) if x0 == x1 else (x0, y0 - half, x1, y1 + half), fill=WHITE
        )
        for cx, cy in ((x0, y0), (x1, y1)):
            pen.ellipse((cx - half, cy - half, cx + half, cy + half), fill=WHITE)
    return image


if __name__ == "__main__":
    draw().save(TARGET, format="ICO", sizes=[(16, 16), (32, 32), (48, 48)])
    print(f"wrote {TARGET}")
