"""The statement every copy of Rempart's data carries: "CONFIDENTIEL - <username> - <date>".

One text (REMPART_WATERMARK, with {username} and {datetime}) marks each file that leaves
Superset, in the way its format shows it:

* PDF: printed by the browser with the statement laid over every page (a fixed banner and a
  faint diagonal line, `OVERLAY_SCRIPT`), as text; `check_pdf` refuses a PDF a page of which
  lacks it, so an unmarked PDF is never sent.
* PNG: drawn into the image (`stamp_png`): a banner across the top, readable by a person and
  by OCR, and the same text faint and diagonal across the picture, the numbers still legible.
* CSV: a first line holding the statement (`stamp_csv`); Excel: the same first row.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


class WatermarkMissing(RuntimeError):
    """A file about to leave does not carry its watermark: it is not sent."""


def watermark_text(template: str, username: str, when: datetime | None = None) -> str:
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return template.format(username=username, datetime=when.strftime("%Y-%m-%d %H:%M UTC"))


def _font(size: int):  # noqa: ANN202 - a Pillow font
    from PIL import ImageFont

    for path in FONT_FILES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size=size)


def stamp_png(png: bytes, text: str) -> bytes:
    """The image with the statement: a solid banner on top, and faint diagonal lines."""
    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(png)).convert("RGBA")
    width, height = image.size
    size = max(14, min(28, width // 60))
    font = _font(size)
    banner_height = size * 2
    marked = Image.new("RGBA", (width, height + banner_height), (255, 255, 255, 255))
    marked.paste(image, (0, banner_height))
    draw = ImageDraw.Draw(marked)
    draw.rectangle((0, 0, width, banner_height), fill=(178, 34, 34, 255))
    draw.text((size, size // 2), text, font=font, fill=(255, 255, 255, 255))

    # The faint diagonal copies: drawn on a layer, rotated, then blended, so the figures
    # beneath stay readable.
    layer = Image.new("RGBA", (width * 2, height * 2), (0, 0, 0, 0))
    layer_draw = ImageDraw.Draw(layer)
    big = _font(size * 2)
    step_y = size * 10
    for row, y in enumerate(range(0, height * 2, step_y)):
        layer_draw.text(
            ((row % 2) * size * 12, y), f"{text}     {text}", font=big, fill=(120, 120, 120, 40)
        )
    layer = layer.rotate(30, resample=Image.BICUBIC)
    left, top = width // 2, height // 2
    layer = layer.crop((left, top, left + width, top + height))
    body = marked.crop((0, banner_height, width, height + banner_height))
    marked.paste(Image.alpha_composite(body, layer), (0, banner_height))

    out = io.BytesIO()
    marked.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def stamp_csv(csv: bytes, text: str) -> bytes:
    """The statement as the first line (one quoted cell), then the data as it was."""
    line = '"' + text.replace('"', '""') + '"\r\n'
    return line.encode("utf-8") + csv


def check_pdf(pdf: bytes, text: str) -> int:
    """The number of pages, once each is found to carry `text`; raises WatermarkMissing."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    wanted = " ".join(text.split())
    for number, page in enumerate(reader.pages, start=1):
        found = " ".join((page.extract_text() or "").split())
        if wanted not in found:
            raise WatermarkMissing(f"page {number} of the PDF lacks its watermark: not sent")
    if not reader.pages:
        raise WatermarkMissing("the PDF has no page: not sent")
    return len(reader.pages)


# Laid over the page before the browser prints it. Fixed elements repeat on every printed
# page; `pointer-events: none` and a low opacity leave the dashboard readable.
OVERLAY_SCRIPT = """
const text = arguments[0];
const banner = document.createElement('div');
banner.setAttribute('data-rempart-watermark', 'banner');
banner.textContent = text;
Object.assign(banner.style, {
  position: 'fixed', top: '0', left: '0', right: '0', zIndex: '2147483647',
  background: '#b22222', color: '#ffffff', font: 'bold 14px DejaVu Sans, sans-serif',
  padding: '4px 12px', pointerEvents: 'none', printColorAdjust: 'exact',
  webkitPrintColorAdjust: 'exact',
});
const veil = document.createElement('div');
veil.setAttribute('data-rempart-watermark', 'diagonal');
veil.textContent = text;
Object.assign(veil.style, {
  position: 'fixed', top: '45%', left: '-10%', width: '120%', textAlign: 'center',
  zIndex: '2147483646', transform: 'rotate(-25deg)', color: 'rgba(120, 120, 120, 0.18)',
  font: 'bold 44px DejaVu Sans, sans-serif', pointerEvents: 'none', whiteSpace: 'nowrap',
});
document.body.appendChild(veil);
document.body.appendChild(banner);
document.body.style.paddingTop = '28px';
"""
