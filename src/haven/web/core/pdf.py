"""Plain-text documents as PDF (a notice, a case summary): A4, in a font that has the language's
script (:data:`FONTS`)."""

from __future__ import annotations

import io
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

# Adobe's Korean CID font is part of the PDF standard's font set: readers supply the glyphs,
# so nothing has to be shipped or embedded.
KOREAN_FONT = "HYSMyeongJo-Medium"
CHINESE_FONT = "STSong-Light"  # Adobe's simplified Chinese CID font, likewise built in
_LATIN = ("Helvetica", "Helvetica-Bold")
# language -> (regular, bold).  Arabic and Russian are missing: Arabic needs shaping and lines
# set right to left, Russian a Cyrillic font embedded in the file, and neither is done yet, so
# their PDFs are made in English (pdf_language) rather than printed as empty boxes.
FONTS: dict[str, tuple[str, str]] = {
    "en": _LATIN,
    "es": _LATIN,
    "fr": _LATIN,
    "ko": (KOREAN_FONT, KOREAN_FONT),
    "zh-hans": (CHINESE_FONT, CHINESE_FONT),
}
_registered = False


def register_fonts() -> None:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(KOREAN_FONT))
        pdfmetrics.registerFont(UnicodeCIDFont(CHINESE_FONT))
        _registered = True


def pdf_language(language: str | None) -> str:
    """The language a PDF asked for in ``language`` is made in: itself where a font has its script."""
    return language if language in FONTS else "en"


def wrap_lines(text: str, font: str, size: float, width: float) -> list[str]:
    """Break a paragraph into lines that fit ``width`` (by words; by characters for long runs)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if not paragraph:
            lines.append("")
            continue
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if pdfmetrics.stringWidth(candidate, font, size) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for ch in word:  # a URL or a Korean run longer than the line
                if pdfmetrics.stringWidth(line + ch, font, size) > width and line:
                    lines.append(line)
                    line = ""
                line += ch
        lines.append(line)
    return lines


def render_pdf(title: str, body: str, *, language: str, footer: str = "") -> bytes:
    register_fonts()
    font = FONTS[pdf_language(language)][0]
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(title)
    pdf.setAuthor("Haven")
    width, height = A4
    margin, size, leading = 20 * mm, 10.5, 14.5
    y = height - margin
    pages = 1

    def new_page() -> Any:
        nonlocal pages
        if footer:
            pdf.setFont(font, 8)
            pdf.drawString(margin, 12 * mm, f"{footer} · {pages}")
        pdf.showPage()
        pages += 1
        return height - margin

    pdf.setFont(font, 13)
    for line in wrap_lines(title, font, 13, width - 2 * margin):
        pdf.drawString(margin, y, line)
        y -= 18
    y -= 8
    for line in wrap_lines(body, font, size, width - 2 * margin):
        if y < margin + 10 * mm:
            y = new_page()
        pdf.setFont(font, size)
        pdf.drawString(margin, y, line)
        y -= leading
    if footer:
        pdf.setFont(font, 8)
        pdf.drawString(margin, 12 * mm, f"{footer} · {pages}")
    pdf.showPage()
    pdf.save()
    return out.getvalue()
