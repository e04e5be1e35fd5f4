"""Guided exercises for a sandbox's trainees.  Each one checks its outcome in the sandbox's own data
(what the trainee actually did, as the rows and the audit trail record it) and names each step
still missing, so a trainer never has to take a trainee's word for it.

Exercises are registered by an explicit ``code`` (stored with each result), checked unique."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from haven.web.accounts.models import User
from haven.web.audit.models import AuditEvent, EventType


@dataclass(frozen=True)
class Exercise:
    code: str
    title: Promise
    task: Promise  # what to do, in the trainee's words
    check: Callable[[User], list[str]]  # what is still missing; empty: done


def _org(user: User) -> int:
    return int(user.organisation_id or 0)  # only sandbox staff get here (actions._in_sandbox)


def _intake(user: User) -> list[str]:
    from haven.web.cases.models import Case, ConsentRecord, ConsentScope

    cases = Case.objects.filter(organisation_id=_org(user), created_by=user)
    if not cases.exists():
        return [_("Open a new case for the survivor.")]
    missed = []
    consented = set(
        ConsentRecord.objects.filter(case__in=cases, recorded_by=user, granted=True).values_list(
            "case_id", "scope"
        )
    )
    wanted = {ConsentScope.MONITOR, ConsentScope.TAKEDOWN}
    by_case: dict[int, set[str]] = {}
    for case_id, scope in consented:
        by_case.setdefault(case_id, set()).add(scope)
    if not any(wanted <= scopes for scopes in by_case.values()):
        missed.append(_("Record her consent to monitoring and to takedown notices on the case."))
    if not cases.exclude(risk_level="").exists():
        missed.append(_("Assess her risk now and record it."))
    if not cases.filter(safety_plan_encrypted__isnull=False).exists():
        missed.append(_("Write a safety plan with her."))
    return missed


def _hashing(user: User) -> list[str]:
    from haven.web.cases.models import ContentItem

    if not ContentItem.objects.filter(
        organisation_id=_org(user), added_by=user, removed_at__isnull=True
    ).exists():
        return [_("Hash a picture on a case (drop it on the case page: it never leaves the browser).")]
    return []


def _review(user: User) -> list[str]:
    from haven.web.monitoring.models import Candidate, CandidateState

    decided = Candidate.objects.filter(organisation_id=_org(user), decided_by=user)
    missed = []
    if not decided.filter(state=CandidateState.CONFIRMED).exists():
        missed.append(_("Confirm a monitoring match that is her picture."))
    if not decided.filter(state=CandidateState.REJECTED).exists():
        missed.append(_("Reject a monitoring match that is not her picture."))
    return missed


def _notices(user: User) -> list[str]:
    from haven.web.takedown.models import Evidence, Notice

    sent = Notice.objects.filter(organisation_id=_org(user), sent_by=user, sent_at__isnull=False)
    missed = []
    regimes = set(sent.values_list("regime", flat=True))
    if len(regimes) < 2:
        missed.append(
            _("Send notices under two different legal regimes (%(count)s so far).") % {"count": len(regimes)}
        )
    if not Evidence.objects.filter(organisation_id=_org(user), captured_by=user).exists():
        missed.append(_("Capture the evidence of a sighting before drafting its notice."))
    return missed


def _escalation(user: User) -> list[str]:
    escalated = AuditEvent.objects.filter(
        organisation_id=_org(user),
        actor=user,
        event_type=EventType.SIGHTING_STATE_CHANGED,
        summary__to="escalated",
    )
    if not escalated.exists():
        return [_("Escalate a sighting that the platform refused or left unanswered.")]
    return []


def _withdrawal(user: User) -> list[str]:
    from haven.signals import PdqHash
    from haven.web.cases.actions import current_consent
    from haven.web.cases.matching import content_index
    from haven.web.cases.models import Case, ConsentRecord, ConsentScope, ContentItem

    cases = Case.objects.filter(
        pk__in=ConsentRecord.objects.filter(
            case__organisation_id=_org(user),
            recorded_by=user,
            granted=False,
            scope=ConsentScope.MONITOR,
        ).values("case_id")
    )
    for case in cases:
        if current_consent(case)[ConsentScope.MONITOR]:
            continue  # given again since
        items = dict(
            ContentItem.objects.filter(case=case, removed_at__isnull=True)
            .exclude(pdq="")
            .values_list("pk", "pdq")
        )
        if not items:
            continue  # nothing to see leave
        # What withdrawal does everywhere: her hashes are matched no more.
        hits = content_index().lookup(
            case.organisation_id, pdq=[PdqHash.from_hex(p) for p in items.values()], radius=0
        )
        if not {h.item_id for h in hits} & set(items):
            return []
    return [_("Withdraw the consent to monitoring of a case that holds picture hashes, when she asks.")]


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "intake",
        gettext_lazy("Intake with consent and safety planning"),
        gettext_lazy(
            "Open a case for a survivor who calls the centre, record her consent to monitoring and to "
            "takedown notices, assess her risk and write a safety plan with her."
        ),
        _intake,
    ),
    Exercise(
        "hashing",
        gettext_lazy("Hashing with the survivor"),
        gettext_lazy(
            "Hash a picture with her on the case page. Use the practice forum's pictures: never a real one."
        ),
        _hashing,
    ),
    Exercise(
        "review",
        gettext_lazy("Monitoring review"),
        gettext_lazy(
            "Review the monitoring queue: confirm a match that is her picture and reject one that is not. "
            "Pictures stay blurred until you choose to look; take a break when you need one."
        ),
        _review,
    ),
    Exercise(
        "notices",
        gettext_lazy("Evidence and notices under two regimes"),
        gettext_lazy(
            "Capture the evidence of a sighting, then draft and send notices under two different legal "
            "regimes. In the sandbox they arrive in the sandbox mailbox."
        ),
        _notices,
    ),
    Exercise(
        "escalation",
        gettext_lazy("Escalation when a platform refuses"),
        gettext_lazy(
            "When a platform refuses or lets the deadline pass, escalate the sighting to the next body "
            "that can act."
        ),
        _escalation,
    ),
    Exercise(
        "withdrawal",
        gettext_lazy("Withdrawal and what it does everywhere"),
        gettext_lazy(
            "A survivor asks to stop: withdraw her consent to monitoring and see that her hashes leave "
            "the index, the sharing feed and the partners at once."
        ),
        _withdrawal,
    ),
)
BY_CODE: dict[str, Exercise] = {e.code: e for e in EXERCISES}
if len(BY_CODE) != len(EXERCISES):  # results are stored by code
    raise ImportError("two exercises share a code")
