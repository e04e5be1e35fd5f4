"""Bar charts of a report's tables, drawn once as shapes and rendered as SVG (pages) or into a PDF.

The page's SVG is written here with presentation attributes only: reportlab's own SVG renderer puts
every colour in a ``style`` attribute, which the site's Content-Security-Policy (``style-src
'self'``) forbids, so its charts would show as black shapes.  The same shapes become a reportlab
``Drawing`` for the PDF, so both show exactly the same chart.  No JavaScript anywhere.

A hidden count is drawn as an empty, dashed bar marked "—", never as zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from django.utils.translation import gettext as _

from .tables import Table

WIDTH = 560
ROW = 26
LABEL = 190  # room for the category names
BAR = WIDTH - LABEL - 70  # room for the number after the longest bar
TOP = 8

FILL = "#3d6b8f"
HIDDEN = "#8a8a8a"
INK = "#1f2328"


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    dashed: bool = False


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    anchor: str  # start | end
    fill: str = INK


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    shapes: tuple[Rect | Text, ...]
    empty: bool


def _short(label: str, limit: int = 26) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bars(table: Table) -> list[tuple[str, float | None]]:
    """What a table's chart shows: its rows' counts (the row totals of a two-way table)."""
    return [(row.label, row.counts[-1]) for row in table.rows]


def chart(table: Table) -> Chart:
    data = bars(table)
    shown = [v for _, v in data if v is not None]
    top = max(shown, default=0) or 1
    shapes: list[Rect | Text] = []
    for n, (label, value) in enumerate(data):
        y = TOP + n * ROW
        shapes.append(Text(LABEL - 8, y + 16, _short(label), "end"))
        if value is None:
            shapes.append(Rect(LABEL, y + 4, BAR * 0.12, ROW - 8, "none", dashed=True))
            shapes.append(Text(LABEL + BAR * 0.12 + 6, y + 16, "—", "start", HIDDEN))
            continue
        width = max(BAR * value / top, 1.0 if value else 0.0)
        shapes.append(Rect(LABEL, y + 4, width, ROW - 8, FILL))
        shapes.append(Text(LABEL + width + 6, y + 16, f"{value:,.0f}", "start"))
    return Chart(
        title=table.title,
        width=WIDTH,
        height=TOP * 2 + ROW * len(data),
        shapes=tuple(shapes),
        empty=not any(shown),
    )


def svg(table: Table, ident: str) -> str:
    """The chart as inline SVG markup, labelled for screen readers (the table holds the numbers)."""
    c = chart(table)
    if c.empty:
        return ""
    label = _("Chart: %(title)s. The numbers are in the table.") % {"title": c.title}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {c.width} {c.height}" '
        f'role="img" aria-labelledby="{ident}-title" focusable="false">',
        f'<title id="{ident}-title">{escape(label)}</title>',
        f'<line x1="{LABEL}" y1="{TOP}" x2="{LABEL}" y2="{c.height - TOP}" stroke="{INK}" stroke-width="1"/>',
    ]
    for shape in c.shapes:
        if isinstance(shape, Rect):
            stroke = f' stroke="{HIDDEN}" stroke-dasharray="4 3"' if shape.dashed else ""
            parts.append(
                f'<rect x="{shape.x:.1f}" y="{shape.y:.1f}" width="{shape.w:.1f}" height="{shape.h:.1f}" '
                f'fill="{shape.fill}"{stroke}/>'
            )
        else:
            parts.append(
                f'<text x="{shape.x:.1f}" y="{shape.y:.1f}" text-anchor="{shape.anchor}" '
                f'font-size="14" fill="{shape.fill}">{escape(shape.text)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def drawing(table: Table, font: str, scale: float = 0.72) -> object | None:
    """The chart as a reportlab Drawing (y grows upwards there), or None when nothing is shown."""
    from reportlab.graphics.shapes import Drawing, Group, Line, String
    from reportlab.graphics.shapes import Rect as PdfRect
    from reportlab.lib import colors

    c = chart(table)
    if c.empty:
        return None
    group = Group()
    group.add(Line(LABEL, TOP, LABEL, c.height - TOP, strokeColor=colors.HexColor(INK), strokeWidth=0.5))
    for shape in c.shapes:
        if isinstance(shape, Rect):
            y = c.height - shape.y - shape.h
            if shape.dashed:
                group.add(
                    PdfRect(
                        shape.x,
                        y,
                        shape.w,
                        shape.h,
                        fillColor=None,
                        strokeColor=colors.HexColor(HIDDEN),
                        strokeDashArray=[3, 2],
                        strokeWidth=0.6,
                    )
                )
            else:
                group.add(
                    PdfRect(
                        shape.x, y, shape.w, shape.h, fillColor=colors.HexColor(shape.fill), strokeColor=None
                    )
                )
        else:
            group.add(
                String(
                    shape.x,
                    c.height - shape.y,
                    shape.text,
                    fontName=font,
                    fontSize=11,
                    fillColor=colors.HexColor(shape.fill),
                    textAnchor="end" if shape.anchor == "end" else "start",
                )
            )
    group.scale(scale, scale)
    out: object = Drawing(c.width * scale, c.height * scale)
    out.add(group)  # type: ignore[attr-defined]
    return out
