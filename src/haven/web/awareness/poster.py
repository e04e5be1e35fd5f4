"""A printable poster for the centre: a headline, three lines on what the centre does, its phone
number, and a QR code that opens the survivor portal in the poster's language."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from haven.web.accounts.models import Organisation
from haven.web.core.pdf import FONTS, register_fonts, wrap_lines

# Where paper is US letter rather than A4.
LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE"})


def poster_pdf(org: Organisation, *, portal_url: str, language: str) -> bytes:
    """The poster, worded in the active language (which the caller set to ``language``)."""
    register_fonts()
    regular, bold = FONTS[language]
    size = LETTER if org.country.upper() in LETTER_COUNTRIES else A4
    width, height = size
    margin = 20 * mm
    text_width = width - 2 * margin
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=size, pageCompression=1)
    pdf.setTitle(_("Help with your pictures"))
    pdf.setAuthor(org.name)

    y = height - margin - 10 * mm
    pdf.setFont(bold, 30)
    for line in wrap_lines(
        _("Someone shared, or threatens to share, intimate pictures of you?"), bold, 30, text_width
    ):
        pdf.drawString(margin, y, line)
        y -= 36
    y -= 4 * mm
    pdf.setFont(regular, 15)
    for paragraph in (
        _("You are not to blame, and you are not alone. This centre can help stop the pictures spreading."),
        _("Your pictures never leave your phone or computer. Only their fingerprints (hashes) are sent."),
        _("You can withdraw your consent or delete your data at any time."),
    ):
        for line in wrap_lines(paragraph, regular, 15, text_width):
            pdf.drawString(margin, y, line)
            y -= 20
        y -= 3 * mm

    # The code: big enough to scan from a metre away on a notice board.
    side = 80 * mm
    widget = QrCodeWidget(portal_url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(widget)
    y -= side
    renderPDF.draw(drawing, pdf, (width - side) / 2, y)
    y -= 8 * mm
    pdf.setFont(regular, 12)
    pdf.drawCentredString(width / 2, y, _("Scan the code with your phone's camera, or type:"))
    y -= 16
    pdf.setFont("Courier", 11)
    pdf.drawCentredString(width / 2, y, portal_url)

    pdf.setFont(bold, 16)
    footer = org.name
    if org.phone:
        footer = _("%(centre)s · Phone: %(phone)s") % {"centre": org.name, "phone": org.phone}
    pdf.drawCentredString(width / 2, margin + 8 * mm, footer)
    pdf.setFont(regular, 11)
    pdf.drawCentredString(
        width / 2, margin, _("If you are in danger now, call the police emergency number of your country.")
    )
    pdf.showPage()
    pdf.save()
    return out.getvalue()
