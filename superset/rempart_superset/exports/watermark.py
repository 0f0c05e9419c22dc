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


def stamp_xlsx(xlsx: bytes, text: str) -> bytes:
    """The statement as a new first row of every sheet, in bold red; the data moves down."""
    from openpyxl import load_workbook
    from openpyxl.styles import Font

    workbook = load_workbook(io.BytesIO(xlsx))
    for sheet in workbook.worksheets:
        sheet.insert_rows(1)
        sheet["A1"] = text
        sheet["A1"].font = Font(bold=True, color="B22222")
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsi encoding (the en dash included), escaped."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def pdf_from_png(png: bytes, text: str) -> bytes:
    """A one-page PDF of a marked image, with the statement also as text over its banner
    (invisible text, as scanned documents carry theirs): found by search and by check_pdf."""
    from PIL import Image
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image_pdf = io.BytesIO()
    image.save(image_pdf, format="PDF", resolution=96)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(image_pdf.getvalue())))
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for page in writer.pages:
        height = float(page.mediabox.height)
        resources = page.setdefault(NameObject("/Resources"), DictionaryObject())
        fonts = resources.setdefault(NameObject("/Font"), DictionaryObject())
        fonts[NameObject("/RempartWatermark")] = font
        layer = DecodedStreamObject()
        layer.set_data(
            b"q BT 3 Tr /RempartWatermark 10 Tf 12 "
            + f"{height - 16:.1f}".encode()
            + b" Td "
            + _pdf_string(text)
            + b" Tj ET Q"
        )
        page.merge_page(_overlay(writer, page, layer))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _overlay(writer, page, stream):  # noqa: ANN001, ANN202 - pypdf objects
    from pypdf import PageObject
    from pypdf.generic import NameObject

    overlay = PageObject.create_blank_page(
        width=float(page.mediabox.width), height=float(page.mediabox.height)
    )
    overlay[NameObject("/Resources")] = page["/Resources"]
    overlay[NameObject("/Contents")] = writer._add_object(stream)
    return overlay


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
function mark(kind, style) {
  const element = document.createElement('div');
  element.setAttribute('data-rempart-watermark', kind);
  element.textContent = text;
  Object.assign(element.style, {position: 'fixed', pointerEvents: 'none'}, style);
  document.body.appendChild(element);
}
mark('diagonal', {
  top: '45%', left: '-10%', width: '120%', textAlign: 'center', zIndex: '2147483646',
  transform: 'rotate(-25deg)', color: 'rgba(120, 120, 120, 0.18)', whiteSpace: 'nowrap',
  font: 'bold 44px DejaVu Sans, sans-serif',
});
mark('banner', {
  top: '0', left: '0', right: '0', zIndex: '2147483647', padding: '4px 12px',
  background: '#b22222', color: '#ffffff', font: 'bold 14px DejaVu Sans, sans-serif',
  printColorAdjust: 'exact', webkitPrintColorAdjust: 'exact',
});
document.body.style.paddingTop = '28px';
"""
