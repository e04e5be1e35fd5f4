"""A small practice forum that Haven serves itself (``/practice/``), so that the demo's monitoring,
evidence capture and rechecks work on one machine with no network: the worker scans and fetches it
over loopback like any site.  It stands for a third-party website, so its few words are not
translated.  Its pictures are synthetic (coloured shapes, no people), drawn the same way every
time; the site serves them as a re-upload would (smaller, recompressed), while the demo cases hold
the hashes of the originals.  One post is "removed" (410 Gone), so a recheck sees a takedown work.

Off unless ``HAVEN_PRACTICE_SITE`` is on (``haven serve --demo`` turns it on).
"""

from __future__ import annotations

import functools
import io
import random

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.utils.html import escape
from django.views.decorators.http import require_GET
from PIL import Image, ImageDraw, ImageFilter

POSTS = 6
REMOVED = frozenset({5})  # taken down by the "platform": a recheck finds it gone


@functools.lru_cache(maxsize=POSTS + 1)
def original(n: int) -> bytes:
    """Picture ``n`` as the survivor's own copy (PNG, full size)."""
    rng = random.Random(f"haven-practice-{n}")  # noqa: S311 - a drawing, not a secret
    picture = Image.new("RGB", (640, 480), tuple(rng.randrange(40, 215) for _ in range(3)))
    draw = ImageDraw.Draw(picture)
    for _ in range(14):
        x, y = rng.randrange(-80, 600), rng.randrange(-80, 440)
        w, h = rng.randrange(60, 320), rng.randrange(60, 260)
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        else:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
    out = io.BytesIO()
    picture.filter(ImageFilter.GaussianBlur(1.5)).save(out, "PNG")
    return out.getvalue()


@functools.lru_cache(maxsize=POSTS + 1)
def served(n: int) -> bytes:
    """Picture ``n`` as the forum serves it: smaller and recompressed, as a re-upload would be."""
    picture = Image.open(io.BytesIO(original(n))).convert("RGB").resize((480, 360), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=72)
    return out.getvalue()


def _enabled() -> None:
    if not getattr(settings, "HAVEN_PRACTICE_SITE", False):
        raise Http404


def _page(title: str, body: str) -> HttpResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head><body>{body}</body></html>"
    )
    return HttpResponse(html)


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    _enabled()
    links = "".join(f'<li><a href="/practice/post/{n}/">Post {n}</a></li>' for n in range(1, POSTS + 1))
    return _page(
        "Example forum (practice site)",
        "<h1>Example forum</h1><p>A practice site served by Haven: synthetic pictures only.</p>"
        f"<ul>{links}</ul>",
    )


@require_GET
def post(request: HttpRequest, n: int) -> HttpResponse:
    _enabled()
    if not 1 <= n <= POSTS:
        raise Http404
    if n in REMOVED:
        return HttpResponse("This post was removed.", status=410, content_type="text/plain")
    return _page(f"Post {n}", f'<h1>Post {n}</h1><img src="/practice/img/{n}.jpg" alt="picture {n}">')


@require_GET
def image(request: HttpRequest, n: int) -> HttpResponse:
    _enabled()
    if not 1 <= n <= POSTS or n in REMOVED:
        raise Http404
    return HttpResponse(served(n), content_type="image/jpeg")


urlpatterns = [
    path("", index, name="practice_index"),
    path("post/<int:n>/", post, name="practice_post"),
    path("img/<int:n>.jpg", image, name="practice_image"),
]
