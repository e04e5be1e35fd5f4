"""A year of invented history for an organisation, so that every report has something to show.

Cases come with consent records, referrals, sightings and notices, and a monitored site (switched off,
so no worker scans it) with a year of daily scans and reviewed candidates.

Used by the demo (`haven serve --demo`), the report tests and the report benchmark.  Rows are
written in bulk, without the actions' audit events: nothing here is a real person, and the case
numbers say so (``HV-SYN…``).  The mix -- mostly women, mostly former partners, deletions mostly
from sites abroad -- follows the shape of ACOSAV's published figures, not their numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from haven.web.accounts.models import Organisation, User
from haven.web.cases.classification import MAPPING, AgeBand, HarmType, Relationship, SurvivorSex, TfgbvType
from haven.web.cases.models import Case, CaseStatus, ConsentMethod, ConsentRecord, ConsentScope
from haven.web.referrals.models import Referral, ReferralStatus, Service, ServiceKind
from haven.web.takedown.models import Platform, PlatformKind, Sighting, SightingSource, SightingState

_SEX = [(SurvivorSex.FEMALE, 74), (SurvivorSex.MALE, 17), (SurvivorSex.OTHER, 2), ("", 7)]
_AGE = [
    (AgeBand.UNDER_12, 1),
    (AgeBand.FROM_12, 14),
    (AgeBand.FROM_18, 38),
    (AgeBand.FROM_26, 30),
    (AgeBand.FROM_41, 9),
    (AgeBand.FROM_61, 1),
    ("", 7),
]
_RELATIONSHIP = [
    (Relationship.FORMER_PARTNER, 30),
    (Relationship.CURRENT_PARTNER, 8),
    (Relationship.ACQUAINTANCE, 18),
    (Relationship.ONLINE_CONTACT, 20),
    (Relationship.STRANGER, 12),
    (Relationship.FAMILY, 2),
    (Relationship.UNKNOWN, 10),
]
_TYPES = [
    (TfgbvType.NON_CONSENSUAL_DISTRIBUTION, 30),
    (TfgbvType.ILLEGAL_FILMING, 20),
    (TfgbvType.THREAT_TO_DISTRIBUTE, 15),
    (TfgbvType.SYNTHETIC_IMAGERY, 12),
    (TfgbvType.SEXTORTION, 10),
    (TfgbvType.FEAR_OF_DISTRIBUTION, 8),
    (TfgbvType.CYBER_SEXUAL_HARASSMENT, 5),
]
_HARMS_OF: dict[str, str] = {
    TfgbvType.NON_CONSENSUAL_DISTRIBUTION: HarmType.DISTRIBUTION,
    TfgbvType.ILLEGAL_FILMING: HarmType.ILLEGAL_FILMING,
    TfgbvType.THREAT_TO_DISTRIBUTE: HarmType.THREATS,
    TfgbvType.SYNTHETIC_IMAGERY: HarmType.SYNTHETIC,
    TfgbvType.SEXTORTION: HarmType.THREATS,
    TfgbvType.FEAR_OF_DISTRIBUTION: HarmType.FEAR_OF_DISTRIBUTION,
}
# (kind, hosted in the organisation's country?, share of removals)
_PLATFORMS = [
    (PlatformKind.ADULT, False, 40),
    (PlatformKind.FILE_SHARING, True, 15),
    (PlatformKind.SOCIAL, False, 15),
    (PlatformKind.SEARCH, False, 12),
    (PlatformKind.FORUM, True, 8),
    (PlatformKind.HOSTING, False, 6),
    (PlatformKind.MESSAGING, True, 3),
    (PlatformKind.OTHER, False, 1),
]
_REFERRALS = [
    (ServiceKind.PSYCHOLOGICAL, 40),
    (ServiceKind.POLICE, 25),
    (ServiceKind.LEGAL, 20),
    (ServiceKind.MEDICAL, 10),
    (ServiceKind.SHELTER, 5),
]


@dataclass(frozen=True)
class History:
    cases: int
    sightings: int
    removed: int
    referrals: int
    notices: int = 0
    candidates: int = 0


def _pick(rng: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    values, weights = zip(*weighted, strict=True)
    return str(rng.choices(values, weights)[0])


def _platforms(organisation: Organisation) -> list[tuple[Platform, int]]:
    abroad = "US" if organisation.country != "US" else "NL"
    out = []
    for kind, domestic, weight in _PLATFORMS:
        platform, _created = Platform.objects.get_or_create(
            organisation=organisation,
            name=f"Example {PlatformKind(kind).label.lower()} (synthetic)",
            defaults={"kind": kind, "country": organisation.country if domestic else abroad, "example": True},
        )
        out.append((platform, weight))
    return out


def _services(organisation: Organisation) -> dict[str, Service]:
    out: dict[str, Service] = {}
    for kind, _weight in _REFERRALS:
        service, _created = Service.objects.get_or_create(
            organisation=organisation,
            kind=kind,
            name=f"Example {ServiceKind(kind).label.lower()} service (synthetic)",
        )
        out[kind] = service
    return out


def make_history(
    organisation: Organisation,
    *,
    year: int,
    cases: int = 400,
    seed: int = 2026,
    until: dt.datetime | None = None,
    reviewer: User | None = None,
) -> History:
    """Invent ``cases`` cases opened through ``year`` (up to ``until``, if given), with consent,
    referrals, sightings, notices and a monitored site's scans and candidates, in bulk.  The
    candidates are decided by ``reviewer`` (none: decided by no one, so untimed).  Returns what was
    made."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
    zone = zoneinfo.ZoneInfo(organisation.time_zone)
    start = dt.datetime(year, 1, 1, tzinfo=zone)
    end = min(dt.datetime(year + 1, 1, 1, tzinfo=zone), until or dt.datetime.max.replace(tzinfo=dt.UTC))
    span = max(int((end - start).total_seconds()), 1)
    platforms = _platforms(organisation)
    services = _services(organisation)
    tag = hashlib.sha256(f"{organisation.pk}:{year}:{seed}".encode()).hexdigest()[:4].upper()
    made: list[Case] = []
    opened: list[dt.datetime] = []
    for n in range(cases):
        when = start + dt.timedelta(seconds=rng.randrange(span))
        kind = _pick(rng, _TYPES)
        harms: set[str] = {_HARMS_OF[kind]} if kind in _HARMS_OF else set()
        if rng.random() < 0.4:
            harms.add(_pick(rng, [(h, 1) for h in HarmType.values]))
        incident = None
        if rng.random() < 0.85:
            incident = (when - dt.timedelta(days=int(rng.lognormvariate(2.0, 1.4)))).date()
        gbvims, dsa = MAPPING.get(kind, ("", ""))
        made.append(
            Case(
                organisation=organisation,
                number=f"HV-SYN{tag}{n:06d}"[:16],
                status=rng.choice(
                    [CaseStatus.ACTIVE, CaseStatus.MONITORING, CaseStatus.CLOSED, CaseStatus.CLOSED]
                ),
                tfgbv_type=kind,
                gbvims_type=gbvims,
                dsa_category=dsa,
                relationship=_pick(rng, _RELATIONSHIP),
                platforms="(synthetic)",
                survivor_sex=_pick(rng, _SEX),
                survivor_age_band=_pick(rng, _AGE),
                incident_on=incident,
                harm_types=sorted(harms, key=HarmType.values.index),
                personal_info_leaked=rng.random() < 0.12,
                reported_elsewhere=rng.random() < 0.05,
            )
        )
        opened.append(when)
    with transaction.atomic():
        Case.objects.bulk_create(made, batch_size=2000)
        for case, when in zip(made, opened, strict=True):
            case.created_at = when
            case.updated_at = when
        Case.objects.bulk_update(made, ["created_at", "updated_at"], batch_size=2000)
        consents, referrals, sightings = [], [], []
        found_at: list[dt.datetime] = []
        for case, when in zip(made, opened, strict=True):
            for scope, share in ((ConsentScope.STATISTICS, 0.8), (ConsentScope.MONITOR, 0.6)):
                if rng.random() < share:
                    consents.append(
                        ConsentRecord(case=case, scope=scope, granted=True, method=ConsentMethod.IN_PERSON)
                    )
            if rng.random() < 0.35:
                for kind in {_pick(rng, _REFERRALS) for _ in range(rng.randint(1, 2))}:
                    referrals.append(
                        Referral(
                            organisation=organisation,
                            case=case,
                            service=services[kind],
                            status=rng.choice([ReferralStatus.SENT, ReferralStatus.COMPLETED]),
                        )
                    )
            if rng.random() < 0.55:
                for i in range(rng.randint(1, 6)):
                    platform = rng.choices([p for p, _ in platforms], [w for _, w in platforms])[0]
                    found = when + dt.timedelta(hours=rng.randint(1, 24 * 20))
                    removed = found + dt.timedelta(hours=int(rng.lognormvariate(3.2, 1.0)))
                    is_removed = rng.random() < 0.8 and removed < end
                    url = f"https://{platform.kind}.example/{case.number.lower()}/{i}"
                    found_at.append(found)
                    sightings.append(
                        Sighting(
                            organisation=organisation,
                            case=case,
                            url=url,
                            url_key=hashlib.sha256(url.encode()).hexdigest(),
                            host=f"{platform.kind}.example",
                            source=rng.choice(
                                [
                                    SightingSource.SURVIVOR,
                                    SightingSource.COUNSELLOR,
                                    SightingSource.MONITORING,
                                ]
                            ),
                            platform=platform,
                            state=SightingState.REMOVED if is_removed else SightingState.SENT,
                            state_changed_at=removed if is_removed else found,
                            removed_at=removed if is_removed else None,
                        )
                    )
        ConsentRecord.objects.bulk_create(consents, batch_size=5000)
        Referral.objects.bulk_create(referrals, batch_size=5000)
        Sighting.objects.bulk_create(sightings, batch_size=5000)
        for sighting, when in zip(sightings, found_at, strict=True):
            sighting.created_at = when
        Sighting.objects.bulk_update(sightings, ["created_at"], batch_size=5000)
        notices = _notices(organisation, sightings, rng, end)
        candidates = _monitoring(organisation, sightings, rng, start, end, reviewer)
    return History(
        cases=len(made),
        sightings=len(sightings),
        removed=sum(1 for s in sightings if s.removed_at is not None),
        referrals=len(referrals),
        notices=notices,
        candidates=candidates,
    )


# (regime, its deadline in hours or None, share)
_REGIMES = [("take_it_down", 48, 30), ("kr_deletion", 24, 30), ("dsa", None, 20), ("policy", None, 20)]


def _notices(
    organisation: Organisation, sightings: list[Sighting], rng: random.Random, end: dt.datetime
) -> int:
    """One notice per case and platform, sent a few hours after the first sighting there; some
    unanswered ones escalated.  The body is a placeholder, encrypted as real ones are."""
    from haven.web.core import crypto
    from haven.web.takedown.actions import NOTICE_BODY
    from haven.web.takedown.models import ActionTaken, Notice, NoticeState

    groups: dict[tuple[int, int | None], list[Sighting]] = {}
    for sighting in sightings:
        groups.setdefault((sighting.case_id, sighting.platform_id), []).append(sighting)
    body = crypto.encrypt("(synthetic notice: no real person)", NOTICE_BODY)
    made: list[Notice] = []
    members: list[list[Sighting]] = []
    escalations: list[tuple[int, Notice]] = []
    for (_case, _platform), group in groups.items():
        found = min(s.created_at for s in group)
        sent = found + dt.timedelta(hours=rng.randint(1, 6))
        removals = [s.removed_at for s in group if s.removed_at is not None]
        if removals:
            sent = min(sent, min(removals) - dt.timedelta(minutes=30))
        code, hours, _share = rng.choices(_REGIMES, [r[2] for r in _REGIMES])[0]
        removed = all(s.removed_at is not None for s in group)
        refused = not removed and rng.random() < 0.15
        notice = Notice(
            organisation=organisation,
            case_id=group[0].case_id,
            platform_id=group[0].platform_id,
            regime=code,
            language="en",
            recipient="abuse@example.org",
            subject="(synthetic)",
            body_encrypted=body,
            state=NoticeState.CLOSED if removed or refused else NoticeState.SENT,
            sent_via="email",
            sent_at=sent,
            deadline_at=sent + dt.timedelta(hours=hours or 72),
            action_taken=ActionTaken.YES if removed else ActionTaken.NO if refused else ActionTaken.UNKNOWN,
            closed_at=max(s.removed_at for s in group if s.removed_at) if removed else None,
        )
        made.append(notice)
        members.append(group)
        if (
            not removed
            and not refused
            and rng.random() < 0.5
            and notice.deadline_at
            and notice.deadline_at < end
        ):
            escalations.append((len(made) - 1, notice))
    Notice.objects.bulk_create(made, batch_size=2000)
    followed = []
    for index, notice in escalations:
        deadline = notice.deadline_at or notice.sent_at or end
        followed.append(
            Notice(
                organisation=organisation,
                case_id=notice.case_id,
                platform_id=notice.platform_id,
                regime=notice.regime,
                language="en",
                recipient="legal@example.org",
                subject="(synthetic escalation)",
                body_encrypted=body,
                state=NoticeState.SENT,
                escalation_of=made[index],
                sent_via="email",
                sent_at=deadline + dt.timedelta(hours=rng.randint(1, 48)),
                deadline_at=deadline + dt.timedelta(days=7),
            )
        )
    Notice.objects.bulk_create(followed, batch_size=2000)
    through = Notice.sightings.through
    links = [
        through(notice_id=n.pk, sighting_id=s.pk)
        for n, group in zip(made, members, strict=True)
        for s in group
    ]
    links += [
        through(notice_id=f.pk, sighting_id=s.pk)
        for (i, _n), f in zip(escalations, followed, strict=True)
        for s in members[i]
    ]
    through.objects.bulk_create(links, batch_size=5000)
    return len(made) + len(followed)


# How monitoring matched (Candidate.kind), as a share of candidates.
_MATCH_KINDS = [("pdq", 60), ("md5", 15), ("video_frame", 5), ("centre80", 10), ("corner60_tl", 10)]


def _monitoring(
    organisation: Organisation,
    sightings: list[Sighting],
    rng: random.Random,
    start: dt.datetime,
    end: dt.datetime,
    reviewer: User | None,
) -> int:
    """A monitored site (inactive, so no worker ever scans it), scanned every day; a candidate
    behind every copy monitoring found, with some rejected look-alikes; a reviewer who decides each
    day's candidates in one sitting the next morning.  Returns the candidates made."""
    from haven.web.cases.models import ContentItem
    from haven.web.monitoring.models import Candidate, CandidateState, MonitorSource, ScanRun, SourceKind

    source, _created = MonitorSource.objects.get_or_create(
        organisation=organisation,
        name="Example monitored site (synthetic)",
        defaults={"kind": SourceKind.CRAWL, "target": "https://adult.example/", "active": False},
    )
    runs: list[ScanRun] = []
    began_at: list[dt.datetime] = []
    day = start
    while day < end:
        began = day + dt.timedelta(hours=3, minutes=rng.randrange(60))
        began_at.append(began)
        failed = rng.random() < 0.03
        runs.append(
            ScanRun(
                organisation=organisation,
                source=source,
                status=ScanRun.Status.FAILED if failed else ScanRun.Status.DONE,
                started_at=began,
                finished_at=began + dt.timedelta(minutes=rng.randint(5, 40)),
                stats={} if failed else {"pages": rng.randint(40, 400), "hashed": rng.randint(300, 4000)},
                failure="(synthetic failure)" if failed else "",
                started_by="schedule",
            )
        )
        day += dt.timedelta(days=1)
    ScanRun.objects.bulk_create(runs, batch_size=2000)
    for run, began in zip(runs, began_at, strict=True):
        run.queued_at = began
    ScanRun.objects.bulk_update(runs, ["queued_at"], batch_size=2000)

    found = [s for s in sightings if s.source == SightingSource.MONITORING]
    items: dict[int, ContentItem] = {}
    for sighting in found:
        if sighting.case_id not in items:
            items[sighting.case_id] = ContentItem(
                organisation=organisation,
                case_id=sighting.case_id,
                label="photo 1 (synthetic)",
                pdq=f"{rng.getrandbits(256):064x}",
                quality=rng.randint(60, 100),
            )
    ContentItem.objects.bulk_create(list(items.values()), batch_size=5000)
    made: list[Candidate] = []
    for sighting in found:
        when = max(sighting.created_at - dt.timedelta(days=1), start)
        looks: list[tuple[Sighting | None, str]] = [(sighting, CandidateState.CONFIRMED)]
        if rng.random() < 0.3:
            looks.append((None, CandidateState.REJECTED))
        for n, (confirmed, state) in enumerate(looks):
            made.append(
                Candidate(
                    organisation=organisation,
                    case_id=sighting.case_id,
                    content_item=items[sighting.case_id],
                    media_url=f"{sighting.url}/{n}.jpg",
                    page_url=sighting.url,
                    distance=rng.randint(0, 20) if confirmed else rng.randint(20, 31),
                    # A look-alike never has the same bytes: only a confirmed copy may match by file.
                    kind=_pick(rng, _MATCH_KINDS if confirmed else _MATCH_KINDS[1:]),
                    sha256=f"{rng.getrandbits(256):064x}",
                    found_at=when,
                    state=state,
                    sighting=confirmed,
                )
            )
    made.sort(key=lambda c: c.found_at)
    sitting: dt.datetime | None = None
    for candidate in made:
        morning = (candidate.found_at + dt.timedelta(days=1)).replace(hour=10, minute=0, second=0)
        if sitting is None or sitting < morning:
            sitting = morning + dt.timedelta(minutes=rng.randrange(30))
        sitting += dt.timedelta(seconds=rng.lognormvariate(3.4, 0.7))
        if sitting >= end:  # not decided yet when the history ends
            candidate.state, candidate.sighting = CandidateState.PENDING, None
            continue
        candidate.decided_at, candidate.decided_by = sitting, reviewer
    Candidate.objects.bulk_create(made, batch_size=5000)
    return len(made)
