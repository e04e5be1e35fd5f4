"""A notice as a PDF: the same text as the e-mail, on A4 (``core.pdf``)."""

from __future__ import annotations

from typing import Any

from haven.web.core.pdf import render_pdf


def notice_pdf(notice: Any, body: str) -> bytes:
    return render_pdf(
        notice.subject,
        body,
        language=notice.language,
        footer=f"{notice.organisation.name} · {notice.case.number} · #{notice.pk}",
    )
