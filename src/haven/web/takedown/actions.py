"""Every write on the takedown desk: atomic, permission-checked, audited.

The takedown state machine lives here (:data:`TRANSITIONS`).  A sighting moves
found -> evidence -> notice_ready -> sent -> acknowledged -> removed | refused | no_response,
and from refused or no_response to escalated, from where a new notice goes to the next
recipient (the hosting provider, a national regulator, a partner hotline).  Rechecks move a
sighting to removed when its page is gone or its media no longer matches, and reopen a
removed sighting (back to found) when the content is back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.signals import (
    THRESHOLDS,
    WHOLE,
    HashingError,
    PdqHash,
    PdqResult,
    RobustMatcher,
    Signal,
    md5,
    pdq_hash,
    picture_query,
)
from haven.web.accounts.roles import Perm
from haven.web.audit.chain import append
from haven.web.audit.models import EventType
from haven.web.cases.actions import current_consent
from haven.web.cases.models import Case, CaseStatus, ConsentScope, ContentItem
from haven.web.core import crypto
from haven.web.core.access import require, same_organisation
from haven.web.core.errors import ActionError, NotFound
from haven.web.training.mailbox import deliver
from haven.web.training.models import MailKind

from . import addresses, regimes
from .models import (
    MATCH_DISTANCE,
    ActionTaken,
    Evidence,
    EvidenceScreenshot,
    Notice,
    NoticeReply,
    NoticeState,
    Platform,
    PlatformDomain,
    PlatformKind,
    Sighting,
    SightingEvent,
    SightingSource,
    SightingState,
)

S = SightingState
NOTICE_BODY = "takedown.Notice.body"

TRANSITIONS: dict[str, frozenset[str]] = {
    S.FOUND: frozenset({S.EVIDENCE, S.REMOVED}),
    S.EVIDENCE: frozenset({S.EVIDENCE, S.NOTICE_READY, S.REMOVED}),
    S.NOTICE_READY: frozenset({S.EVIDENCE, S.SENT, S.REMOVED}),
    S.SENT: frozenset({S.ACKNOWLEDGED, S.REMOVED, S.REFUSED, S.NO_RESPONSE}),
    S.ACKNOWLEDGED: frozenset({S.REMOVED, S.REFUSED, S.NO_RESPONSE}),
    S.REFUSED: frozenset({S.ESCALATED, S.NOTICE_READY, S.REMOVED}),
    S.NO_RESPONSE: frozenset({S.ESCALATED, S.NOTICE_READY, S.REMOVED, S.ACKNOWLEDGED, S.REFUSED}),
    S.ESCALATED: frozenset({S.NOTICE_READY, S.REMOVED}),
    S.REMOVED: frozenset({S.FOUND}),  # back again: reopened
}

# States from which a notice may be drafted for a sighting.
NOTICEABLE = frozenset({S.EVIDENCE, S.REFUSED, S.NO_RESPONSE, S.ESCALATED})

# After a notice is sent: check at these offsets, then weekly while the case is monitored.
RECHECK_AFTER = (dt.timedelta(hours=1), dt.timedelta(hours=6), dt.timedelta(hours=24), dt.timedelta(hours=48))
RECHECK_WEEKLY = dt.timedelta(days=7)

MAX_BULK_URLS = 1000


def _label(actor: Any) -> str:
    return actor if isinstance(actor, str) else actor.get_username()


def _move(sighting: Sighting, to: str, *, actor: Any, note: str = "", now: dt.datetime | None = None) -> None:
    """Change a sighting's state (inside the caller's transaction) and record the step."""
    now = now or timezone.now()
    if to not in TRANSITIONS[sighting.state]:
        raise ActionError(
            _("A sighting that is %(state)s cannot become %(to)s.")
            % {"state": S(sighting.state).label, "to": S(to).label}
        )
    before = sighting.state
    sighting.state = to
    sighting.state_changed_at = now
    if to == S.REMOVED:
        sighting.removed_at = now
        sighting.deadline_at = None
    elif before == S.REMOVED:
        sighting.removed_at = None
    sighting.save()
    SightingEvent.objects.create(
        organisation_id=sighting.organisation_id,
        sighting=sighting,
        at=now,
        from_state=before,
        to_state=to,
        note=note[:300],
        actor_label=_label(actor),
    )
    append(
        actor=None if isinstance(actor, str) else actor,
        event_type=EventType.SIGHTING_STATE_CHANGED,
        organisation=sighting.organisation_id,
        obj=sighting,
        summary={
            "case": sighting.case.number,
            "from": before,
            "to": to,
            **({"by": actor} if isinstance(actor, str) else {}),
        },
    )


# --- platforms ---------------------------------------------------------------------------------


def platform_for_host(organisation_id: int, host: str) -> Platform | None:
    candidates = addresses.domain_candidates(host)
    rows = {
        d.domain: d.platform
        for d in PlatformDomain.objects.select_related("platform").filter(
            organisation_id=organisation_id, domain__in=candidates
        )
    }
    for domain in candidates:  # most specific first
        if domain in rows:
            return rows[domain]
    return None


@dataclass
class PlatformInput:
    name: str
    kind: str = PlatformKind.OTHER
    domains: Sequence[str] = ()
    abuse_email: str = ""
    web_form_url: str = ""
    country: str = ""
    regimes: Sequence[str] = ()
    response_hours: int = 72
    language: str = "en"
    notes: str = ""
    example: bool = False


def save_platform(*, actor: Any, data: PlatformInput, platform: Platform | None = None) -> Platform:
    """Create or update a platform and its domains; sightings on those domains are linked to it."""
    require(actor, Perm.MANAGE_PLATFORMS)
    if platform is not None:
        same_organisation(actor, platform)
    if not data.name.strip():
        raise ActionError(_("A platform needs a name."))
    if data.kind not in PlatformKind.values:
        raise ActionError(_("Unknown kind of platform."))
    unknown = [r for r in data.regimes if r not in regimes.REGIMES]
    if unknown:
        raise ActionError(_("Unknown legal regimes: %(names)s") % {"names": ", ".join(unknown)})
    if data.language not in regimes.LANGUAGES:
        raise ActionError(_("Notices can be written in English (en) or Korean (ko)."))
    if data.web_form_url:
        addresses.normalise(data.web_form_url)
    domains = sorted({addresses.clean_domain(d) for d in data.domains if d.strip()})
    if not domains:
        raise ActionError(_("A platform needs at least one domain."))
    org = actor.organisation_id
    with transaction.atomic():
        taken = (
            PlatformDomain.objects.filter(organisation_id=org, domain__in=domains)
            .exclude(platform=platform)
            .select_related("platform")
            if platform is not None
            else PlatformDomain.objects.filter(organisation_id=org, domain__in=domains).select_related(
                "platform"
            )
        )
        clash = next(iter(taken), None)
        if clash is not None:
            raise ActionError(
                _("%(domain)s already belongs to %(platform)s.")
                % {"domain": clash.domain, "platform": clash.platform.name}
            )
        platform = platform or Platform(organisation_id=org)
        for name in (
            "name",
            "kind",
            "abuse_email",
            "web_form_url",
            "country",
            "response_hours",
            "language",
            "notes",
            "example",
        ):
            setattr(platform, name, getattr(data, name))
        platform.name = platform.name.strip()
        platform.country = platform.country.strip().upper()
        platform.regimes = list(dict.fromkeys(data.regimes))
        platform.full_clean(exclude=["organisation"])
        platform.save()
        platform.domains.exclude(domain__in=domains).delete()
        for domain in domains:
            PlatformDomain.objects.get_or_create(organisation_id=org, platform=platform, domain=domain)
        # Sightings waiting for this platform (unknown until now) are linked to it.
        unlinked = Sighting.objects.filter(organisation_id=org, platform__isnull=True)
        for sighting in unlinked.only("id", "host"):
            if set(addresses.domain_candidates(sighting.host)) & set(domains):
                Sighting.objects.filter(pk=sighting.pk).update(platform=platform)
        append(
            actor=actor,
            event_type=EventType.PLATFORM_SAVED,
            organisation=org,
            obj=platform,
            summary={"name": platform.name, "domains": domains},
        )
    return platform


# --- sightings ---------------------------------------------------------------------------------


@dataclass
class AddResult:
    created: list[Sighting] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


def parse_url_list(text: str) -> list[str]:
    """One URL a line; blank lines and ``#`` comments are skipped."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def add_sightings(
    *, actor: Any, case: Case, urls: Iterable[str], source: str, media_url: str = ""
) -> AddResult:
    """Add the URLs where a case's content was seen. Any invalid URL refuses the whole batch."""
    require(actor, Perm.TAKEDOWN)
    same_organisation(actor, case)
    return insert_sightings(actor=actor, case=case, urls=urls, source=source, media_url=media_url)


def insert_sightings(
    *, actor: Any, case: Case, urls: Iterable[str], source: str, media_url: str = ""
) -> AddResult:
    """:func:`add_sightings` for callers that checked permission themselves (a reviewer who
    confirms a monitoring match); inside or outside the caller's transaction."""
    if source not in SightingSource.values:
        raise ActionError(_("Unknown source."))
    urls = list(urls)
    if not urls:
        raise ActionError(_("Give at least one URL."))
    if len(urls) > MAX_BULK_URLS:
        raise ActionError(_("At most %(n)d URLs at a time.") % {"n": MAX_BULK_URLS})
    errors, clean = [], []
    for n, url in enumerate(urls, 1):
        try:
            clean.append(addresses.normalise(url))
        except ActionError as exc:
            errors.append(_("Line %(n)d: %(error)s") % {"n": n, "error": exc})
    media = ""
    if media_url.strip():
        try:
            media = addresses.normalise(media_url)
        except ActionError as exc:
            errors.append(_("Media URL: %(error)s") % {"error": exc})
    if errors:
        raise ActionError(" ".join(errors[:20]))
    if media and len(clean) != 1:
        raise ActionError(_("A media URL can only be given with a single page URL."))
    result = AddResult()
    now = timezone.now()
    with transaction.atomic():
        existing = set(Sighting.objects.filter(case=case).values_list("url_key", flat=True))
        platforms: dict[str, Platform | None] = {}
        for url in clean:
            key = addresses.url_key(url)
            if key in existing:
                result.duplicates.append(url)
                continue
            existing.add(key)
            host = addresses.host_of(url)
            if host not in platforms:
                platforms[host] = platform_for_host(case.organisation_id, host)
            sighting = Sighting.objects.create(
                organisation_id=case.organisation_id,
                case=case,
                url=url,
                url_key=key,
                host=host,
                media_url=media,
                source=source,
                platform=platforms[host],
                state=S.FOUND,
                state_changed_at=now,
                created_by=None if isinstance(actor, str) else actor,
            )
            SightingEvent.objects.create(
                organisation_id=case.organisation_id,
                sighting=sighting,
                at=now,
                to_state=S.FOUND,
                note=str(SightingSource(source).label),
                actor_label=_label(actor),
            )
            result.created.append(sighting)
        if result.created:
            append(
                actor=actor,
                event_type=EventType.SIGHTING_ADDED,
                organisation=case.organisation_id,
                obj=case,
                summary={
                    "case": case.number,
                    "added": len(result.created),
                    "duplicates": len(result.duplicates),
                    "source": source,
                },
            )
    return result


def sighting_for_copy(*, actor: Any, case: Case, media_url: str, page_url: str, source: str) -> Sighting:
    """The sighting of a copy found elsewhere (a monitoring match, another centre's find): its page,
    or the media itself where no page is known, with the media's address; the sighting already on
    the desk when the page is.  For callers that checked permission, inside their transaction."""
    page = page_url or media_url
    media = media_url if page_url and page_url != media_url else ""
    result = insert_sightings(actor=actor, case=case, urls=[page], source=source, media_url=media)
    if result.created:
        return result.created[0]
    return Sighting.objects.get(case=case, url_key=addresses.url_key(addresses.normalise(page)))


# --- evidence ----------------------------------------------------------------------------------


FetchFn = Callable[[str], Any]


def _policy() -> Any:
    from haven.scan import FetchPolicy

    return FetchPolicy(
        allow_loopback=getattr(settings, "HAVEN_FETCH_ALLOW_LOOPBACK", False),
        max_bytes=settings.HAVEN_FETCH_MAX_BYTES,
        total_timeout_s=settings.HAVEN_FETCH_TIMEOUT_SECONDS,
    )


def _fetch(url: str) -> Any:
    from haven.scan import fetch

    return fetch(url, _policy())


def fetch_all(urls: Iterable[str]) -> FetchFn:
    """Fetch many URLs at once (a few at a time per host) and return a fetch function that
    answers from those results, so that bulk capture and recheck take as long as the slowest
    host rather than the sum of all."""
    import asyncio

    from haven.scan import Fetcher, FetchError

    wanted = list(dict.fromkeys(urls))

    async def run() -> dict[str, Any]:
        async with Fetcher(_policy()) as fetcher:

            async def one(url: str) -> Any:
                try:
                    return await fetcher.fetch(url)
                except FetchError as exc:
                    return exc

            return dict(zip(wanted, await asyncio.gather(*(one(u) for u in wanted)), strict=True))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        results = asyncio.run(run())
    else:  # inside an event loop (an async caller): fetch one by one instead
        return _fetch

    def answer(url: str) -> Any:
        result = results[url] if url in results else _fetch(url)
        if isinstance(result, BaseException):
            raise result
        return result

    return answer


def _content_hashes(case: Case) -> list[tuple[ContentItem, list[PdqHash]]]:
    out = []
    for item in ContentItem.objects.filter(case=case, removed_at__isnull=True):
        hashes = []
        for hx in [item.pdq, *(item.pdq_dihedral or [])] + [f[2] for f in item.video_frames or []]:
            if hx:
                hashes.append(PdqHash.from_hex(hx))
        out.append((item, hashes))
    return out


@dataclass
class _Media:
    """What fetched media was found to be, worked out before any row is locked."""

    md5: str
    pdq: PdqResult | None = None
    error: str = ""
    distance: int | None = None
    item: ContentItem | None = None
    match_kind: str = ""


def _analyse_media(case: Case, result: Any) -> _Media | None:
    """Hash fetched media and match it against the case's photos (plain hashes first, then
    the robust rules for a cropped, framed or turned copy); None for anything but an image.

    Decoding and matching take tens of milliseconds, so they run before the sighting is
    locked; :func:`_evidence` checks the matched item is still current when it writes.
    """
    if not (result.sniffed_type.startswith("image/") and 200 <= result.status < 300):
        return None
    media = _Media(md5=str(md5(result.body)))
    try:
        found = pdq_hash(result.body)
    except HashingError as exc:
        media.error = str(exc)[:300]
        return media
    media.pdq = found
    best: tuple[int, ContentItem | None] = (257, None)
    for item, hashes in _content_hashes(case):
        if item.md5 and item.md5 == media.md5:
            best = (0, item)
            break
        for h in hashes:
            d = found.hash.distance(h)
            if d < best[0]:
                best = (d, item)
    if best[1] is not None:
        media.distance, media.item = best
    if best[0] > MATCH_DISTANCE:
        robust = _robust_match(case, result.body)
        if robust is not None:
            media.distance, media.item, media.match_kind = robust
    return media


def _evidence(
    sighting: Sighting, kind: str, result: Any, media: _Media | None, *, actor: Any, purpose: str
) -> Evidence:
    """An Evidence row from a fetch result and its media analysis; the bytes are dropped."""
    ev = Evidence(
        organisation_id=sighting.organisation_id,
        sighting=sighting,
        kind=kind,
        purpose=purpose,
        url=result.url,
        final_url=result.final_url,
        redirects=list(result.redirects),
        status=result.status,
        headers=dict(result.headers),
        sha256=result.sha256,
        size=len(result.body),
        content_type=result.content_type[:100],
        sniffed_type=result.sniffed_type[:100],
        fetched_at=result.fetched_at,
        captured_by=None if isinstance(actor, str) else actor,
    )
    if media is None:
        return ev
    ev.md5 = media.md5
    if media.pdq is None:
        ev.error = media.error
        return ev
    ev.pdq = str(media.pdq.hash)
    ev.quality = media.pdq.quality
    # A photo withdrawn or removed while the media was being matched is no match.
    if (
        media.item is not None
        and ContentItem.objects.filter(pk=media.item.pk, removed_at__isnull=True).exists()
    ):
        ev.distance, ev.matched_item, ev.match_kind = media.distance, media.item, media.match_kind
    return ev


def _robust_match(case: Case, body: bytes) -> tuple[int, ContentItem, str] | None:
    """The case's photo that the media matches only through its robust signals (a cropped,
    framed or turned copy): distance, item and the stored signal kind."""
    from haven.web.cases.matching import extra_signals

    items = {
        str(i.pk): i for i in ContentItem.objects.filter(case=case, removed_at__isnull=True).exclude(pdq="")
    }
    matcher = RobustMatcher({kind: min(t, MATCH_DISTANCE) for kind, t in THRESHOLDS.items()})
    for key, item in items.items():
        whole = Signal(WHOLE, PdqHash.from_hex(item.pdq), item.quality if item.quality is not None else 100)
        matcher.add(key, [whole, *extra_signals(item)])
    if not len(matcher):
        return None
    try:
        found = matcher.match(picture_query(body))
    except HashingError:
        return None
    if not found:
        return None
    return found[0].distance, items[found[0].item], found[0].kind


def capture_evidence(*, actor: Any, sighting: Sighting, fetch: FetchFn | None = None) -> list[Evidence]:
    """Fetch the page (and the media URL, if any) and record what was seen.

    A fetch that is refused or fails (a private address, a timeout, too large) raises
    :class:`ActionError` and changes nothing.
    """
    require(actor, Perm.TAKEDOWN)
    same_organisation(actor, sighting)
    return record_evidence(actor=actor, sighting=sighting, fetch=fetch)


def record_evidence(*, actor: Any, sighting: Sighting, fetch: FetchFn | None = None) -> list[Evidence]:
    """:func:`capture_evidence` for callers that checked permission themselves.

    With ``HAVEN_EVIDENCE_SCREENSHOTS`` on, the page is also photographed (see
    :mod:`.screenshot`); a screenshot that cannot be taken never fails the capture: the fetch
    evidence is recorded as usual and the page's row says why there is no picture.
    """
    from haven.scan import FetchError

    fetch = fetch or _fetch
    targets = [(Evidence.Kind.PAGE, sighting.url)]
    if sighting.media_url:
        targets.append((Evidence.Kind.MEDIA, sighting.media_url))
    results = []
    for kind, url in targets:
        try:
            results.append((kind, fetch(url)))
        except FetchError as exc:
            _record_failed_capture(actor, sighting, url, str(exc))
            raise ActionError(
                _("Could not fetch the address: %(error)s. You can upload a screenshot of the page instead.")
                % {"error": str(exc).rstrip(".")}
            ) from None
    shot, shot_error = (None, "")
    if settings.HAVEN_EVIDENCE_SCREENSHOTS:
        shot, shot_error = _take_screenshot(sighting.url, results[0][1])
    analysed = [_analyse_media(sighting.case, result) for _, result in results]
    with transaction.atomic():
        sighting = Sighting.objects.select_for_update(of=("self",)).select_related("case").get(pk=sighting.pk)
        rows = []
        for (kind, result), found in zip(results, analysed, strict=True):
            ev = _evidence(sighting, kind, result, found, actor=actor, purpose="capture")
            if kind == Evidence.Kind.PAGE:
                _attach_screenshot(ev, shot, shot_error)
            else:
                ev.save()
            rows.append(ev)
        media = next((e for e in rows if e.pdq), None)
        append(
            actor=actor,
            event_type=EventType.EVIDENCE_CAPTURED,
            organisation=sighting.organisation_id,
            obj=sighting,
            summary={
                "case": sighting.case.number,
                "url": sighting.url,
                "status": [e.status for e in rows],
                "sha256": [e.sha256 for e in rows],
                "distance": media.distance if media else None,
                "match_kind": media.match_kind if media else None,
                **({"screenshot_sha256": shot.sha256} if shot is not None else {}),
            },
        )
        if sighting.state == S.FOUND:
            note = _("HTTP %(status)s") % {"status": ", ".join(str(e.status) for e in rows)}
            if media is not None and media.distance is not None:
                note += " · " + _("PDQ distance %(d)d") % {"d": media.distance}
            _move(sighting, S.EVIDENCE, actor=actor, note=note)
    _report_other_centres(actor, sighting, rows)
    return rows


UPLOAD_MAX_BYTES = 10 * 2**20  # the reverse proxies let 11 MiB through on the upload path only
UPLOAD_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})


def upload_evidence(*, actor: Any, sighting: Sighting, data: bytes) -> Evidence:
    """Evidence the officer kept herself (a screenshot, a saved PDF of the page), for a page that
    Haven cannot fetch (behind a login, gone, blocking the server): hashed, matched against the
    case's pictures when it is one, stored encrypted and deleted after
    ``HAVEN_EVIDENCE_SCREENSHOT_DAYS`` like captured screenshots, so a notice can be drafted."""
    from types import SimpleNamespace

    from haven.scan import sniff
    from haven.signals import sha256

    require(actor, Perm.TAKEDOWN)
    same_organisation(actor, sighting)
    if not data:
        raise ActionError(_("The file is empty."))
    if len(data) > UPLOAD_MAX_BYTES:
        raise ActionError(
            _("The file is larger than %(mb)s MB. Upload a screenshot or a PDF of the page.")
            % {"mb": UPLOAD_MAX_BYTES // 2**20}
        )
    kind = sniff(data)
    if kind not in UPLOAD_TYPES:
        raise ActionError(_("Upload a screenshot (PNG, JPEG, GIF or WebP) or a PDF of the page."))
    now = timezone.now()
    digest = str(sha256(data))
    result = SimpleNamespace(
        url=sighting.url,
        final_url=sighting.url,
        redirects=[],
        status=None,
        headers={},
        sha256=digest,
        body=data,
        content_type=kind,
        sniffed_type=kind,
        fetched_at=now,
    )
    # A picture is hashed and matched like fetched media (decoding happens before the lock).
    media = _analyse_media(sighting.case, SimpleNamespace(sniffed_type=kind, status=200, body=data))
    with transaction.atomic():
        sighting = Sighting.objects.select_for_update(of=("self",)).select_related("case").get(pk=sighting.pk)
        ev = _evidence(sighting, Evidence.Kind.PAGE, result, media, actor=actor, purpose="upload")
        _keep_encrypted(ev, data, digest)
        append(
            actor=actor,
            event_type=EventType.EVIDENCE_CAPTURED,
            organisation=sighting.organisation_id,
            obj=sighting,
            summary={
                "case": sighting.case.number,
                "url": sighting.url,
                "uploaded": kind,
                "sha256": [digest],
                "distance": ev.distance,
                "match_kind": ev.match_kind or None,
            },
        )
        if sighting.state == S.FOUND:
            _move(sighting, S.EVIDENCE, actor=actor, note=_("Evidence uploaded by the officer"))
    return ev


def _record_failed_capture(actor: Any, sighting: Sighting, url: str, error: str) -> None:
    """A capture whose fetch failed leaves one line in the sighting's timeline saying why, so the
    officer sees what was tried (and can upload her own evidence); no evidence, no state change."""
    note = _("Capture failed: %(error)s") % {"error": error}
    SightingEvent.objects.create(
        organisation_id=sighting.organisation_id,
        sighting=sighting,
        at=timezone.now(),
        from_state=sighting.state,
        to_state=sighting.state,
        note=note[:300],
        actor_label=_label(actor),
    )


def assign_sightings(*, actor: Any, sightings: Sequence[Sighting], assignee: Any) -> int:
    """Give sightings to an officer of the centre (``None``: to nobody); each change audited, the
    officer notified once.  Returns how many changed."""
    from haven.web.notifications.actions import notify
    from haven.web.notifications.models import Kind

    require(actor, Perm.TAKEDOWN)
    for sighting in sightings:
        same_organisation(actor, sighting)
    if assignee is not None and (
        assignee.organisation_id != actor.organisation_id or not assignee.can(Perm.TAKEDOWN)
    ):
        raise ActionError(_("Sightings go to officers of your centre who work on takedowns."))
    changed = []
    with transaction.atomic():
        for sighting in sightings:
            locked = (
                Sighting.objects.select_for_update(of=("self",)).select_related("case").get(pk=sighting.pk)
            )
            if locked.assignee_id == (assignee.pk if assignee else None):
                continue
            locked.assignee = assignee
            locked.save(update_fields=["assignee"])
            append(
                actor=actor,
                event_type=EventType.SIGHTING_ASSIGNED,
                organisation=locked.organisation_id,
                obj=locked,
                summary={"case": locked.case.number, "assignee": assignee.username if assignee else None},
            )
            changed.append(locked)
        if changed and assignee is not None and assignee.pk != getattr(actor, "pk", None):
            notify(
                users=[assignee],
                kind=Kind.SIGHTINGS_ASSIGNED,
                key=f"sightings_assigned:{changed[0].pk}:{timezone.now():%Y%m%d%H%M%S%f}",
                organisation=actor.organisation_id,
                params={"count": len(changed)},
                url=reverse("takedown:queue") + "?mine=1",
            )
    return len(changed)


def _report_other_centres(actor: Any, sighting: Sighting, rows: list[Evidence]) -> None:
    """Media that is not this case's but matches a bank imported from another centre is reported
    to that centre as a find (the hook that federation registers; nothing when there is none)."""
    from haven.web.cases.matching import FOREIGN_LOOKUPS

    for ev in rows:
        if not ev.pdq or ev.matched_item_id is not None:
            continue
        query = {
            "pdq": [PdqHash.from_hex(ev.pdq)],
            "md5": [],
            "sha256": [],
            "pictures": [],
            "radius": MATCH_DISTANCE,
        }
        for other in FOREIGN_LOOKUPS:
            other(
                actor=actor,
                organisation_id=sighting.organisation_id,
                url=ev.final_url or ev.url,
                page_url=sighting.url if ev.kind == Evidence.Kind.MEDIA else "",
                how="evidence",
                evidence_sha256=ev.sha256,
                **query,
            )


# --- screenshots -------------------------------------------------------------------------------


def _take_screenshot(url: str, page: Any) -> tuple[Any, str]:
    """A screenshot of ``url`` and "", or None and why there is none (in words an officer can read)."""
    from haven.scan import FetchResult

    from . import screenshot

    try:
        shot = screenshot.take(
            url,
            policy=_policy(),
            executable=settings.HAVEN_CHROMIUM,
            already=page if isinstance(page, FetchResult) else None,
        )
    except screenshot.ScreenshotError as exc:
        return None, _screenshot_error(exc)[:300]
    return shot, ""


def _screenshot_error(exc: Any) -> str:
    from . import screenshot

    if exc.code == "no_browser":
        return _("No screenshot: Chromium was not found at %(path)s (set HAVEN_CHROMIUM).") % {
            "path": exc.detail
        }
    if exc.code == "no_playwright":
        return _("No screenshot: Playwright is not installed (pip install 'haven[screenshots]').")
    if exc.code == "timeout":
        return _("No screenshot: the page took longer than %(seconds)d seconds to render.") % {
            "seconds": screenshot.TOTAL_SECONDS
        }
    if exc.code == "page":
        return _("No screenshot: the browser could not load the page (%(detail)s).") % {"detail": exc.detail}
    return _("No screenshot: the browser failed (%(detail)s).") % {"detail": exc.detail}


def _attach_screenshot(ev: Evidence, shot: Any, error: str) -> None:
    """Save the page's evidence row with its screenshot (encrypted, expiring) or the reason for none."""
    if shot is None:
        ev.screenshot_error = error
        ev.save()
        return
    _keep_encrypted(ev, shot.png, shot.sha256, height=shot.height, clipped=shot.clipped)


def _keep_encrypted(
    ev: Evidence, data: bytes, digest: str, *, height: int = 0, clipped: bool = False
) -> None:
    """Save the evidence row with a picture of the page (a screenshot, or the officer's upload),
    encrypted under a key context that names the row, until ``HAVEN_EVIDENCE_SCREENSHOT_DAYS``."""
    now = timezone.now()
    ev.screenshot_sha256 = digest
    ev.screenshot_expires_at = now + dt.timedelta(days=settings.HAVEN_EVIDENCE_SCREENSHOT_DAYS)
    ev.save()
    EvidenceScreenshot.objects.create(
        organisation_id=ev.organisation_id,
        evidence=ev,
        image_encrypted=crypto.encrypt_bytes(data, EvidenceScreenshot.context(ev.pk)),
        height=height,
        clipped=clipped,
        created_at=now,
        expires_at=ev.screenshot_expires_at,
    )


def open_screenshot(*, actor: Any, evidence: Evidence) -> bytes:
    """The PNG of an evidence screenshot, for a member of the organisation with the takedown
    permission; each showing is audited.  Raises NotFound when there is none (any more)."""
    require(actor, Perm.TAKEDOWN)
    same_organisation(actor, evidence)
    with transaction.atomic():
        shot = EvidenceScreenshot.objects.filter(evidence=evidence, expires_at__gt=timezone.now()).first()
        if shot is None:
            raise NotFound
        png = crypto.decrypt_bytes(shot.image_encrypted, EvidenceScreenshot.context(evidence.pk))
        append(
            actor=actor,
            event_type=EventType.SCREENSHOT_VIEWED,
            organisation=evidence.organisation_id,
            obj=evidence,
            summary={
                "case": evidence.sighting.case.number,
                "sighting": evidence.sighting_id,
                "screenshot_sha256": evidence.screenshot_sha256,
            },
        )
    return png


def expire_screenshots(now: dt.datetime | None = None) -> int:
    """Delete every screenshot past its expiry (the evidence rows keep their SHA-256); return how many."""
    now = now or timezone.now()
    deleted = 0
    with transaction.atomic():
        expired = list(
            EvidenceScreenshot.objects.select_for_update(skip_locked=True)
            .filter(expires_at__lte=now)
            .values_list("pk", "organisation_id", "evidence_id")
        )
        by_org: dict[int, list[int]] = {}
        for _pk, org, evidence_id in expired:
            by_org.setdefault(org, []).append(evidence_id)
        for org, evidence_ids in sorted(by_org.items()):
            deleted += EvidenceScreenshot.objects.filter(
                pk__in=[pk for pk, o, _e in expired if o == org]
            ).delete()[0]
            append(
                actor="worker",
                event_type=EventType.SCREENSHOTS_EXPIRED,
                organisation=org,
                summary={"evidence": evidence_ids},
            )
    return deleted


# --- notices -----------------------------------------------------------------------------------


@dataclass
class NoticeInput:
    regime: str
    language: str = ""  # default: the platform's
    explanation: str = ""
    signer: str = ""  # default: the officer's full name
    notifier_email: str = ""  # default: the sending address
    notifier_address: str = ""
    notifier_phone: str = ""
    good_faith: bool = False
    accurate: bool = False
    work: str = ""
    owner_authorised: bool = False
    personal_information: str = ""  # what the URLs expose, described without repeating it
    data_subject_authorised: bool = False
    search_queries: list[str] = field(default_factory=list)
    search_result_urls: list[str] = field(default_factory=list)
    survivor_name: str = ""
    recipient: str = ""  # default: the platform's abuse address or web form
    escalation_of: Notice | None = None


MAX_SEARCH_ITEMS = 100  # search terms, and search results pages, in one request
MAX_SEARCH_QUERY = 500


def _search_facts(data: NoticeInput) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The search terms and results pages of a notice, blank lines dropped; refuses a list too long,
    a term too long, or a results page that is not a public http(s) address."""
    queries = tuple(q.strip() for q in data.search_queries if q.strip())
    pages = [u.strip() for u in data.search_result_urls if u.strip()]
    if len(queries) > MAX_SEARCH_ITEMS or len(pages) > MAX_SEARCH_ITEMS:
        raise ActionError(
            _("Give at most %(n)d search terms and %(n)d search results pages.") % {"n": MAX_SEARCH_ITEMS}
        )
    if any(len(q) > MAX_SEARCH_QUERY for q in queries):
        raise ActionError(_("A search term is longer than %(n)d characters.") % {"n": MAX_SEARCH_QUERY})
    try:
        normalised = tuple(addresses.normalise(u) for u in pages)
    except ActionError as exc:
        raise ActionError(_("Search results page: %(error)s") % {"error": exc}) from None
    return queries, normalised


def _check_takedown_consent(case: Case) -> None:
    if not current_consent(case).get(ConsentScope.TAKEDOWN):
        raise ActionError(
            _("The survivor has not consented to takedown notices for case %(case)s.") % {"case": case.number}
        )


class NoticeIncomplete(ActionError):
    """A notice would lack elements its law requires: ``missing`` names them (``regimes.ELEMENTS``)."""

    def __init__(self, regime_name: Any, missing: list[str]) -> None:
        self.missing = missing
        self.labels = {e: str(regimes.ELEMENTS[e][0]) for e in missing}
        super().__init__(
            _("The notice (%(regime)s) would lack: %(missing)s.")
            % {"regime": regime_name, "missing": "; ".join(self.labels.values())}
        )


def notice_preconditions(*, actor: Any, sightings: Sequence[Sighting]) -> Platform:
    """What a notice needs before anyone fills in its form: sightings of one case on one known
    platform, with evidence, and the survivor's consent to takedown.  Returns the platform;
    raises :class:`ActionError` saying what to do first."""
    require(actor, Perm.TAKEDOWN)
    if not sightings:
        raise ActionError(_("Choose at least one sighting."))
    for s in sightings:
        same_organisation(actor, s)
    cases = {s.case_id for s in sightings}
    platforms = {s.platform_id for s in sightings}
    if len(cases) != 1:
        raise ActionError(_("A notice covers the sightings of one case."))
    if len(platforms) != 1:
        raise ActionError(_("A notice goes to one platform: these sightings are on several."))
    platform = sightings[0].platform
    if platform is None:
        raise ActionError(_("Fill in the platform for %(host)s first.") % {"host": sightings[0].host})
    waiting = [s.url for s in sightings if s.state not in NOTICEABLE]
    if waiting:
        raise ActionError(
            _("Capture evidence first (or wait for the platform's answer): %(urls)s")
            % {"urls": ", ".join(waiting[:5])}
        )
    _check_takedown_consent(sightings[0].case)
    return platform


# Which regime a centre reaches for first, by its country (a platform's own list decides among them).
_EU = frozenset({
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
})  # fmt: skip


def default_regime(platform: Platform | None, country: str) -> str:
    """The regime a notice starts with: the one of the centre's own country when the platform
    takes it, else the platform's first, else a platform-policy report."""
    country = (country or "").upper()
    home = (
        "kr_deletion"
        if country == "KR"
        else "dsa"
        if country in _EU
        else "take_it_down"
        if country == "US"
        else ""
    )
    offered = list(platform.regimes) if platform and platform.regimes else []
    if home and home in offered:
        return home
    return offered[0] if offered else (home or "policy")


def draft_notice(*, actor: Any, sightings: Sequence[Sighting], data: NoticeInput) -> Notice:
    """Render a notice for sightings of one case on one platform, refusing one that lacks an element."""
    require(actor, Perm.TAKEDOWN)
    platform = notice_preconditions(actor=actor, sightings=sightings)
    case = sightings[0].case
    try:
        regime = regimes.regime(data.regime)
    except ValueError:
        raise ActionError(_("Unknown legal regime.")) from None
    if data.survivor_name.strip() and not current_consent(case).get(ConsentScope.IDENTIFY):
        raise ActionError(_("The survivor has not consented to being named in notices."))
    language = data.language or platform.language
    if language not in regimes.LANGUAGES:
        raise ActionError(_("Notices can be written in English (en) or Korean (ko)."))
    search_queries, search_result_urls = _search_facts(data)
    if regime.via_web_form:
        # The text is pasted into the platform's form, field by field: it is not an e-mail.
        recipient = data.recipient.strip() or platform.web_form_url
        if not recipient.lower().startswith(("https://", "http://")):
            raise ActionError(
                _(
                    "This request is made through %(platform)s's web form: "
                    "give the form's address as the recipient."
                )
                % {"platform": platform.name}
            )
    else:
        recipient = data.recipient.strip() or platform.abuse_email or platform.web_form_url
    if not recipient:
        raise ActionError(
            _("%(platform)s has no abuse address or web form: give a recipient.")
            % {"platform": platform.name}
        )
    org = actor.organisation
    facts = regimes.NoticeFacts(
        notifier=org.name,
        notifier_email=data.notifier_email.strip() or settings.DEFAULT_FROM_EMAIL,
        signer=data.signer.strip() or actor.get_full_name().strip(),
        urls=tuple(s.url for s in sightings) + tuple(s.media_url for s in sightings if s.media_url),
        platform=platform.name,
        explanation=data.explanation,
        notifier_address=data.notifier_address,
        notifier_phone=data.notifier_phone,
        case_reference=case.number,
        survivor_name=data.survivor_name,
        good_faith=data.good_faith,
        accurate=data.accurate,
        work=data.work,
        owner_authorised=data.owner_authorised,
        personal_information=data.personal_information,
        data_subject_authorised=data.data_subject_authorised,
        search_queries=search_queries,
        search_result_urls=search_result_urls,
        date=timezone.localdate(),
    )
    try:
        rendered = regime.render(facts, language)
    except regimes.MissingElements as exc:
        raise NoticeIncomplete(regime.name, list(exc.missing)) from None
    with transaction.atomic():
        locked = list(Sighting.objects.select_for_update().filter(pk__in=[s.pk for s in sightings]))
        notice = Notice.objects.create(
            organisation_id=case.organisation_id,
            case=case,
            platform=platform,
            regime=regime.code,
            language=language,
            recipient=recipient[:500],
            subject=rendered.subject[:300],
            body_encrypted=crypto.encrypt(rendered.body, NOTICE_BODY),
            escalation_of=data.escalation_of,
            created_by=actor,
        )
        notice.sightings.set(locked)
        for s in locked:
            _move(s, S.NOTICE_READY, actor=actor, note=str(regime.name))
        append(
            actor=actor,
            event_type=EventType.NOTICE_DRAFTED,
            organisation=case.organisation_id,
            obj=notice,
            summary={
                "case": case.number,
                "regime": regime.code,
                "platform": platform.name,
                "urls": len(locked),
            },
        )
    return notice


def notice_body(notice: Notice) -> str:
    return crypto.decrypt(notice.body_encrypted, NOTICE_BODY)


def _deadline(notice: Notice, now: dt.datetime) -> dt.datetime:
    hours = regimes.regime(notice.regime).deadline_hours
    if hours is None:
        hours = notice.platform.response_hours if notice.platform else 72
    return now + dt.timedelta(hours=hours)


def _mark_sent(notice: Notice, *, actor: Any, via: str, now: dt.datetime) -> None:
    notice.state = NoticeState.SENT
    notice.sent_via = via
    notice.sent_at = now
    notice.sent_by = actor
    notice.deadline_at = _deadline(notice, now)
    notice.save()
    for s in notice.sightings.select_for_update():
        _move(s, S.SENT, actor=actor, note=notice.recipient, now=now)
        s.deadline_at = notice.deadline_at
        s.next_check_at = now + RECHECK_AFTER[0]
        s.checks_done = 0
        s.save(update_fields=["deadline_at", "next_check_at", "checks_done"])
        schedule_recheck(s)


def _ready(actor: Any, notice: Notice) -> Notice:
    require(actor, Perm.TAKEDOWN)
    same_organisation(actor, notice)
    notice = (
        Notice.objects.select_for_update(of=("self",)).select_related("case", "platform").get(pk=notice.pk)
    )
    if notice.state != NoticeState.READY:
        raise ActionError(_("This notice has already been sent or closed."))
    _check_takedown_consent(notice.case)
    return notice


def send_notice(*, actor: Any, notice: Notice) -> Notice:
    """Send by e-mail through the configured SMTP server, with the PDF attached."""
    from .pdf import notice_pdf

    with transaction.atomic():
        notice = _ready(actor, notice)
        if "@" not in notice.recipient or notice.recipient.startswith("http"):
            raise ActionError(
                _("The recipient is a web form: submit it there and record it as sent via web form.")
            )
        domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
        message_id = make_msgid(domain=domain)
        body = notice_body(notice)
        email = EmailMessage(
            subject=notice.subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[notice.recipient],
            headers={"Message-ID": message_id},
        )
        email.attach(f"notice-{notice.pk}.pdf", notice_pdf(notice, body), "application/pdf")
        try:
            # A training sandbox keeps it in its mailbox instead.
            deliver(email, organisation_id=notice.organisation_id, kind=MailKind.NOTICE)
        except (OSError, Exception) as exc:  # smtplib errors are OSError or SMTPException
            raise ActionError(_("The mail server refused the notice: %(error)s") % {"error": exc}) from None
        notice.message_id = message_id
        now = timezone.now()
        _mark_sent(notice, actor=actor, via="email", now=now)
        append(
            actor=actor,
            event_type=EventType.NOTICE_SENT,
            organisation=notice.organisation_id,
            obj=notice,
            summary={
                "case": notice.case.number,
                "via": "email",
                "message_id": message_id,
                "to": notice.recipient,
            },
        )
    return notice


def record_web_form(*, actor: Any, notice: Notice, reference: str) -> Notice:
    """Record that an officer submitted the notice through the platform's web form."""
    reference = reference.strip()
    if not reference:
        raise ActionError(_("Give the platform's reference (the ticket or confirmation number)."))
    with transaction.atomic():
        notice = _ready(actor, notice)
        notice.platform_reference = reference[:200]
        _mark_sent(notice, actor=actor, via="web_form", now=timezone.now())
        append(
            actor=actor,
            event_type=EventType.NOTICE_SENT,
            organisation=notice.organisation_id,
            obj=notice,
            summary={"case": notice.case.number, "via": "web_form", "reference": notice.platform_reference},
        )
    return notice


def log_reply(
    *, actor: Any, notice: Notice, outcome: str, text: str = "", received_at: dt.datetime | None = None
) -> NoticeReply:
    require(actor, Perm.TAKEDOWN)
    same_organisation(actor, notice)
    if outcome not in NoticeReply.Outcome.values:
        raise ActionError(_("Unknown outcome."))
    if len(text) > 10000:
        raise ActionError(_("The reply is longer than 10,000 characters."))
    now = timezone.now()
    received_at = received_at or now
    if received_at > now + dt.timedelta(minutes=5):
        raise ActionError(_("A reply cannot be received in the future."))
    with transaction.atomic():
        notice = Notice.objects.select_for_update(of=("self",)).select_related("case").get(pk=notice.pk)
        if notice.state == NoticeState.READY:
            raise ActionError(_("This notice has not been sent yet."))
        reply = NoticeReply.objects.create(
            organisation_id=notice.organisation_id,
            notice=notice,
            received_at=received_at,
            outcome=outcome,
            text=text,
            logged_by=actor,
        )
        target: str | None = {
            "acknowledged": S.ACKNOWLEDGED,
            "removed": S.REMOVED,
            "refused": S.REFUSED,
        }.get(outcome)
        if outcome == NoticeReply.Outcome.ACKNOWLEDGED and notice.state == NoticeState.SENT:
            notice.state = NoticeState.ACKNOWLEDGED
            notice.acknowledged_at = received_at
        if target is not None:
            for s in notice.sightings.select_for_update():
                if target in TRANSITIONS[s.state]:
                    _move(
                        s,
                        target,
                        actor=actor,
                        note=_("Reply: %(outcome)s") % {"outcome": reply.get_outcome_display()},
                    )
        _settle(notice, now)
        append(
            actor=actor,
            event_type=EventType.NOTICE_REPLY,
            organisation=notice.organisation_id,
            obj=notice,
            summary={"case": notice.case.number, "outcome": outcome},
        )
    return reply


def _settle(notice: Notice, now: dt.datetime) -> None:
    """Close a notice once none of its sightings waits on it; record what the platform did."""
    states = [s.state for s in notice.sightings.all()]
    if not states:
        return
    removed = sum(st == S.REMOVED for st in states)
    waiting = sum(st in (S.SENT, S.ACKNOWLEDGED) for st in states)
    notice.action_taken = (
        ActionTaken.YES
        if removed == len(states)
        else ActionTaken.PARTIAL
        if removed
        else (ActionTaken.NO if not waiting else ActionTaken.UNKNOWN)
    )
    if not waiting and notice.state != NoticeState.CLOSED:
        notice.state = NoticeState.CLOSED
        notice.closed_at = now
    notice.save()


ESCALATION_TARGETS = ("hosting", "regulator", "hotline")


def escalate(*, actor: Any, sightings: Sequence[Sighting], target: str, note: str = "") -> None:
    """Refused or unanswered: the next notice goes to the host, a regulator or a partner hotline."""
    require(actor, Perm.TAKEDOWN)
    if target not in ESCALATION_TARGETS:
        raise ActionError(_("Escalate to the hosting provider, a regulator or a hotline."))
    with transaction.atomic():
        for s in sightings:
            same_organisation(actor, s)
            locked = Sighting.objects.select_for_update(of=("self",)).select_related("case").get(pk=s.pk)
            _move(locked, S.ESCALATED, actor=actor, note=f"{target}: {note}".strip(": "))


def mark_overdue(now: dt.datetime | None = None) -> int:
    """Sightings whose notice deadline has passed without an answer become "no response"."""
    now = now or timezone.now()
    count = 0
    with transaction.atomic():
        due = (
            Sighting.objects.select_for_update(of=("self",))
            .select_related("case")
            .filter(state__in=[S.SENT, S.ACKNOWLEDGED], deadline_at__lt=now)
        )
        for s in due:
            _move(s, S.NO_RESPONSE, actor="worker", note=_("Deadline passed"), now=now)
            count += 1
    return count


# --- rechecks ----------------------------------------------------------------------------------


def schedule_recheck(sighting: Sighting) -> None:
    """Queue the background recheck for when it is due (after the transaction commits)."""
    from .tasks import recheck_sighting

    if sighting.next_check_at is None:
        return
    pk, when = sighting.pk, sighting.next_check_at
    transaction.on_commit(lambda: recheck_sighting.using(run_after=when).enqueue(pk, when.isoformat()))


def _next_check(sighting: Sighting, now: dt.datetime) -> dt.datetime | None:
    if sighting.case.status == CaseStatus.CLOSED:
        return None
    base = sighting.state_changed_at if sighting.state != S.REMOVED else now
    if sighting.state != S.REMOVED and sighting.checks_done < len(RECHECK_AFTER):
        sent = (
            sighting.events.filter(to_state=S.SENT).order_by("-at").values_list("at", flat=True).first()
            or base
        )
        return max(now, sent + RECHECK_AFTER[sighting.checks_done])
    if sighting.state == S.REMOVED and sighting.case.status != CaseStatus.MONITORING:
        return None
    return now + RECHECK_WEEKLY


TEXT_CHECKS: list[Callable[[Case, bytes], bool | None]] = []
"""Whether a page still shows a case's personal information (True/False), or None when there is
nothing to look for: monitoring registers its check from ``AppConfig.ready``, so that takedown
never imports the app built on top of it."""


def _text_still_there(sighting: Sighting, results: Sequence[tuple[Any, Any]]) -> bool | None:
    if not sighting.personal_info or not results or not 200 <= results[0][1].status < 300:
        return None
    for check in TEXT_CHECKS:
        present = check(sighting.case, results[0][1].body)
        if present is not None:
            return present
    return None


@dataclass
class RecheckOutcome:
    gone: bool
    reason: str
    evidence: list[Evidence]


def recheck(*, actor: Any, sighting: Sighting, fetch: FetchFn | None = None) -> RecheckOutcome:
    """Fetch again: gone (404/410, or the media no longer matches) -> removed; back -> reopened.

    A fetch that fails for a network reason is not taken as removal: the next check is kept.
    """
    from haven.scan import FetchError

    if not isinstance(actor, str):
        require(actor, Perm.TAKEDOWN)
        same_organisation(actor, sighting)
    fetch = fetch or _fetch
    now = timezone.now()
    targets = [(Evidence.Kind.PAGE, sighting.url)]
    if sighting.media_url:
        targets.append((Evidence.Kind.MEDIA, sighting.media_url))
    results, failure = [], ""
    for kind, url in targets:
        try:
            results.append((kind, fetch(url)))
        except FetchError as exc:
            failure = str(exc)
            break
    analysed = [_analyse_media(sighting.case, result) for _, result in results]
    text_there = _text_still_there(sighting, results)
    with transaction.atomic():
        sighting = Sighting.objects.select_for_update(of=("self",)).select_related("case").get(pk=sighting.pk)
        rows = []
        for (kind, result), found in zip(results, analysed, strict=True):
            ev = _evidence(sighting, kind, result, found, actor=actor, purpose="recheck")
            ev.save()
            rows.append(ev)
        gone, reason = False, failure
        if not failure:
            page = rows[0]
            media = rows[1] if len(rows) > 1 else None
            if page.status in (404, 410):
                gone, reason = True, _("HTTP %(status)d") % {"status": page.status}
            elif media is not None and (media.status in (404, 410) or not media.matches):
                gone = True
                reason = (
                    _("media HTTP %(status)d") % {"status": media.status}
                    if media.status in (404, 410)
                    else _("the media no longer matches")
                )
            elif media is None and text_there is False:
                gone, reason = True, _("her personal information is no longer on the page")
            else:
                reason = _("still online (HTTP %(status)d)") % {"status": page.status}
        sighting.checks_done += 1
        if gone and sighting.state != S.REMOVED:
            _move(sighting, S.REMOVED, actor=actor, note=reason, now=now)
            for notice in sighting.notices.exclude(state=NoticeState.CLOSED):
                _settle(notice, now)
        elif not gone and not failure and sighting.state == S.REMOVED:
            _move(sighting, S.FOUND, actor=actor, note=_("Back online: reopened"), now=now)
        sighting.next_check_at = _next_check(sighting, now)
        sighting.save(update_fields=["checks_done", "next_check_at"])
        schedule_recheck(sighting)
        append(
            actor=None if isinstance(actor, str) else actor,
            event_type=EventType.SIGHTING_RECHECKED,
            organisation=sighting.organisation_id,
            obj=sighting,
            summary={
                "case": sighting.case.number,
                "gone": gone,
                "reason": str(reason)[:200],
                "status": [e.status for e in rows],
                **({"by": actor} if isinstance(actor, str) else {}),
            },
        )
    return RecheckOutcome(gone, str(reason), rows)


def due_for_recheck(now: dt.datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        Sighting.objects.filter(next_check_at__lte=now)
        .exclude(case__status=CaseStatus.CLOSED)
        .values_list("pk", flat=True)
    )


def close_unsent_notices(case: Case, *, actor: Any) -> int:
    """Consent to takedown withdrawn: notices not yet sent are closed, inside the withdrawal."""
    now = timezone.now()
    closed = 0
    for notice in Notice.objects.select_for_update().filter(case=case, state=NoticeState.READY):
        notice.state = NoticeState.CLOSED
        notice.closed_at = now
        notice.save(update_fields=["state", "closed_at"])
        for s in notice.sightings.filter(state=S.NOTICE_READY):
            _move(s, S.EVIDENCE, actor=actor, note=_("Consent withdrawn: notice withdrawn"), now=now)
        closed += 1
    if closed:
        append(
            actor=None if isinstance(actor, str) else actor,
            event_type=EventType.NOTICE_CLOSED,
            organisation=case.organisation_id,
            obj=case,
            summary={"case": case.number, "closed": closed, "reason": "consent withdrawn"},
        )
    return closed
