"""The practice web site each training sandbox gets, served by Haven itself at
``/practice/s/<sandbox>/``: a forum, an image host and a search page holding planted copies of the
sandbox cases' synthetic pictures (coloured shapes, no people), an abuse contact that acts on
notices, and slow and hostile pages to meet in a safe place.

- The **forum** serves each picture re-encoded and smaller, as a re-upload would be.
- The **image host** serves each picture edited (mirrored, smaller, recompressed) on a page of its own.
- The **search page** lists the forum's posts and the host's pages for a query, as a search engine would.
- The **abuse contact** (:data:`CONTACT`) reads each notice that reaches it (in the sandbox mailbox):
  a forum post's address or an image file's address is removed at once (the page answers 410 Gone
  after), an image host *page* without the image file's own address is refused, and the contact
  replies by e-mail, into the mailbox, saying what it did and why.
- **Hostile pages**: one that answers too slowly, one that redirects to a private address, one whose
  picture claims more pixels than a decoder should accept, and one that redirects forever.

It stands for third-party sites, so its few words are not translated.  Only a sandbox has one.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import threading
import time
import zlib

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from django.utils.html import escape
from django.views.decorators.http import require_GET
from PIL import Image, ImageOps

from haven.web.accounts.models import Organisation
from haven.web.core.practice import original, served

from .models import MailKind, PracticeRemoval, SandboxMail

PICTURES = 6
CONTACT = "abuse@practice.invalid"  # .invalid never routes: nothing can leave by mistake
SLOW_SECONDS = 45  # longer than the fetcher waits (HAVEN_FETCH_TIMEOUT_SECONDS, 30 by default)
# The slow page holds a server thread while it waits: one at a time, whoever asks, so that nobody
# can tie up the server (and the survivor portal with it) by asking for it many times.
_SLOW = threading.BoundedSemaphore(1)


def prefix(org: Organisation) -> str:
    return f"/practice/s/{org.slug}/"


def origin() -> str:
    """Where the practice site is reached from the server itself (HAVEN_BASE_URL, else `make run`'s)."""
    return str(getattr(settings, "HAVEN_BASE_URL", "") or "http://127.0.0.1:8000").rstrip("/")


@functools.lru_cache(maxsize=PICTURES + 1)
def edited(n: int) -> bytes:
    """Picture ``n`` as the image host serves it: mirrored, smaller, recompressed.  (Not cropped:
    plain PDQ misses even a small crop of these pictures, and the seeded cases hold no crop signals.)"""
    picture = Image.open(io.BytesIO(original(n))).convert("RGB")
    picture = ImageOps.mirror(picture)
    picture = picture.resize((512, 384), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=68)
    return out.getvalue()


@functools.lru_cache(maxsize=1)
def _bomb() -> bytes:
    """A small PNG whose header claims 40,000 × 40,000 pixels: a decoder must refuse it from the
    header alone.  Written by hand, as making it with an imaging library would allocate 1.6 GB."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    side = 40_000
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit grayscale
    rows = zlib.compress(b"\x00" * (side + 1) * 64, 9)  # the first rows only: nobody gets further
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def _sandbox(slug: str) -> Organisation:
    org = Organisation.objects.filter(slug=slug, sandbox=True).first()
    if org is None:
        raise Http404
    return org


def _removed(org: Organisation, where: str) -> bool:
    return PracticeRemoval.objects.filter(organisation=org, path=where).exists()


def _page(title: str, body: str) -> HttpResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
        f"<title>{escape(title)}</title></head><body>{body}"
        "<p><small>A practice site served by Haven for training: synthetic pictures only.</small></p>"
        "</body></html>"
    )
    return HttpResponse(html)


def _gone() -> HttpResponse:
    return HttpResponse("This content was removed after a notice.", status=410, content_type="text/plain")


def _number(n: int) -> None:
    if not 1 <= n <= PICTURES:
        raise Http404


@require_GET
def index(request: HttpRequest, slug: str) -> HttpResponse:
    org = _sandbox(slug)
    base = prefix(org)
    return _page(
        "Practice web",
        f'<h1>Practice web</h1><ul><li><a href="{base}forum/">Example forum</a></li>'
        f'<li><a href="{base}host/">Example image host</a></li>'
        f'<li><a href="{base}search/?q=photos">Example search</a></li></ul>'
        f"<p>Abuse contact for every site here: {CONTACT}</p>"
        f'<h2>Hard pages</h2><ul><li><a href="{base}hostile/slow/">A very slow page</a></li>'
        f'<li><a href="{base}hostile/private/">A page that redirects to a private address</a></li>'
        f'<li><a href="{base}hostile/bomb/">A page with a decompression bomb</a></li>'
        f'<li><a href="{base}hostile/loop/">A page that redirects forever</a></li></ul>',
    )


@require_GET
def forum(request: HttpRequest, slug: str) -> HttpResponse:
    org = _sandbox(slug)
    links = "".join(
        f'<li><a href="{prefix(org)}forum/post/{n}/">Post {n}</a></li>' for n in range(1, PICTURES + 1)
    )
    return _page("Example forum", f"<h1>Example forum</h1><ul>{links}</ul>")


@require_GET
def forum_post(request: HttpRequest, slug: str, n: int) -> HttpResponse:
    org = _sandbox(slug)
    _number(n)
    if _removed(org, f"forum/post/{n}/"):
        return _gone()
    return _page(
        f"Post {n}", f'<h1>Post {n}</h1><img src="{prefix(org)}forum/img/{n}.jpg" alt="picture {n}">'
    )


@require_GET
def forum_image(request: HttpRequest, slug: str, n: int) -> HttpResponse:
    org = _sandbox(slug)
    _number(n)
    if _removed(org, f"forum/post/{n}/"):
        return _gone()
    return HttpResponse(served(n), content_type="image/jpeg")


@require_GET
def host(request: HttpRequest, slug: str) -> HttpResponse:
    org = _sandbox(slug)
    links = "".join(
        f'<li><a href="{prefix(org)}host/view/{n}/">Image {n}</a></li>' for n in range(1, PICTURES + 1)
    )
    return _page("Example image host", f"<h1>Example image host</h1><ul>{links}</ul>")


@require_GET
def host_view(request: HttpRequest, slug: str, n: int) -> HttpResponse:
    org = _sandbox(slug)
    _number(n)
    if _removed(org, f"host/{n}.jpg"):
        return _gone()
    return _page(f"Image {n}", f'<h1>Image {n}</h1><img src="{prefix(org)}host/{n}.jpg" alt="image {n}">')


@require_GET
def host_image(request: HttpRequest, slug: str, n: int) -> HttpResponse:
    org = _sandbox(slug)
    _number(n)
    if _removed(org, f"host/{n}.jpg"):
        return _gone()
    return HttpResponse(edited(n), content_type="image/jpeg")


@require_GET
def search(request: HttpRequest, slug: str) -> HttpResponse:
    org = _sandbox(slug)
    query = request.GET.get("q", "")[:100]
    base = prefix(org)
    results = "".join(
        f'<li><a href="{base}forum/post/{n}/">Forum post {n}</a> · '
        f'<a href="{base}host/view/{n}/">Image {n}</a></li>'
        for n in range(1, PICTURES + 1)
        if not _removed(org, f"forum/post/{n}/")
    )
    return _page("Example search", f"<h1>Results for “{escape(query)}”</h1><ol>{results}</ol>")


@require_GET
def hostile(request: HttpRequest, slug: str, kind: str) -> HttpResponse:
    org = _sandbox(slug)
    base = prefix(org)
    if kind == "slow":
        if not _SLOW.acquire(blocking=False):
            return HttpResponse("Busy: try again in a minute.", status=429, content_type="text/plain")
        try:
            time.sleep(SLOW_SECONDS)
        finally:
            _SLOW.release()
        return _page("Slow", "<p>Finally.</p>")
    if kind == "private":
        # The classic target of server-side request forgery: a cloud machine's metadata service.
        return HttpResponseRedirect("http://169.254.169.254/latest/meta-data/")
    if kind == "loop":
        return HttpResponseRedirect(f"{base}hostile/loop/")
    if kind == "bomb":
        return _page("Bomb", f'<img src="{base}hostile/bomb.png" alt="">')
    raise Http404


@require_GET
def bomb(request: HttpRequest, slug: str) -> HttpResponse:
    _sandbox(slug)
    return HttpResponse(_bomb(), content_type="image/png")


urlpatterns = [
    path("<slug:slug>/", index, name="practice_sandbox"),
    path("<slug:slug>/forum/", forum),
    path("<slug:slug>/forum/post/<int:n>/", forum_post),
    path("<slug:slug>/forum/img/<int:n>.jpg", forum_image),
    path("<slug:slug>/host/", host),
    path("<slug:slug>/host/view/<int:n>/", host_view),
    path("<slug:slug>/host/<int:n>.jpg", host_image),
    path("<slug:slug>/search/", search),
    path("<slug:slug>/hostile/bomb.png", bomb),
    path("<slug:slug>/hostile/<slug:kind>/", hostile),
]


# ---- the abuse contact --------------------------------------------------------------------------

_PATHS = {
    "forum": re.compile(r"forum/post/([1-9])/", re.ASCII),
    "forum_image": re.compile(r"forum/img/([1-9])\.jpg", re.ASCII),
    "host_view": re.compile(r"host/view/([1-9])/", re.ASCII),
    "host_image": re.compile(r"host/([1-9])\.jpg", re.ASCII),
}
MAX_URLS = 200  # a notice names a few addresses; the rest of a huge body is not read


def handle_notice(org: Organisation, mail: SandboxMail) -> SandboxMail:
    """What the practice site's abuse team does with a notice: remove what it names properly, refuse
    the rest with the reason, and reply (into the sandbox mailbox)."""
    site = origin() + prefix(org)
    urls = [u.rstrip(".,;)") for u in re.findall(r"https?://[^\s<>\"]+", mail.body)[:MAX_URLS]]
    ours = [u.removeprefix(site) for u in urls if u.startswith(site)]
    removed: list[str] = []
    refused: list[str] = []
    named_images = {int(m.group(1)) for u in ours if (m := _PATHS["host_image"].fullmatch(u))}
    for rest in dict.fromkeys(ours):
        if (m := _PATHS["forum"].fullmatch(rest)) or (m := _PATHS["forum_image"].fullmatch(rest)):
            if int(m.group(1)) <= PICTURES:
                removed.append(f"forum/post/{int(m.group(1))}/")
        elif m := _PATHS["host_image"].fullmatch(rest):
            if int(m.group(1)) <= PICTURES:
                removed.append(f"host/{int(m.group(1))}.jpg")
        elif (m := _PATHS["host_view"].fullmatch(rest)) and int(m.group(1)) not in named_images:
            refused.append(site + rest)
    for where in dict.fromkeys(removed):
        PracticeRemoval.objects.get_or_create(
            organisation=org, path=where, defaults={"notice_subject": mail.subject[:300]}
        )
    lines = [f"Thank you for your notice ({mail.subject})."]
    if removed:
        lines += ["", "We removed:", *(f"- {site}{w}" for w in dict.fromkeys(removed))]
    if refused:
        lines += [
            "",
            "We cannot act on these pages: the image host needs the direct address of each image file "
            "(ending in .jpg), not only the page that shows it. Send a new notice with the file's address:",
            *(f"- {u}" for u in refused),
        ]
    if not removed and not refused:
        lines += ["", "None of the addresses in your notice are on our sites, so we have taken no action."]
    lines += ["", "Example forum & image host abuse team (practice site)"]
    return SandboxMail.objects.create(
        organisation=org,
        kind=MailKind.REPLY,
        sender=CONTACT,
        recipients=mail.sender,
        subject=f"Re: {mail.subject}"[:300],
        body="\n".join(lines),
    )
