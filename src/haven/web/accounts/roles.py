"""Roles and what each may do: the one place the permission matrix lives.

Every view and API endpoint names the :class:`Perm` it needs; the matrix below
decides.  Rows of other organisations are never visible, whatever the role.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    COUNSELLOR = "counsellor", _("Counsellor")
    DELETION_OFFICER = "deletion_officer", _("Deletion officer")
    REVIEWER = "reviewer", _("Reviewer")
    ANALYST = "analyst", _("Analyst")


class Perm(StrEnum):
    VIEW_CASES = "view_cases"
    CREATE_CASE = "create_case"
    EDIT_CASE = "edit_case"
    VIEW_CONTACT = "view_contact"  # decrypt survivor contact details and notes
    MANAGE_CONSENT = "manage_consent"
    MANAGE_CONTENT = "manage_content"
    LOOKUP = "lookup"
    VIEW_AUDIT = "view_audit"
    MANAGE_USERS = "manage_users"
    VIEW_REPORTS = "view_reports"
    TAKEDOWN = "takedown"  # sightings, evidence, notices, rechecks
    MANAGE_PLATFORMS = "manage_platforms"  # the platform directory
    MANAGE_SOURCES = "manage_sources"  # monitoring sources and their runs
    REVIEW = "review"  # the review queue of monitoring matches; partner hashes in quarantine
    APPROVE_SHARING = "approve_sharing"  # mark a case's items as fit to share with partners
    MANAGE_PARTNERS = "manage_partners"  # register partners, issue and revoke their keys
    TRANSFER_CASES = "transfer_cases"  # offer a case to another centre, accept or reject one offered
    EXPORT_CASES = "export_cases"  # the case list as CSV (no contact details; audited)
    MANAGE_AWARENESS = "manage_awareness"  # the public awareness pages, their revisions and campaign banners


_CASEWORK = {
    Perm.VIEW_CASES,
    Perm.CREATE_CASE,
    Perm.EDIT_CASE,
    Perm.VIEW_CONTACT,
    Perm.MANAGE_CONSENT,
    Perm.MANAGE_CONTENT,
    Perm.LOOKUP,
    Perm.TAKEDOWN,
    Perm.REVIEW,
    Perm.APPROVE_SHARING,
    Perm.TRANSFER_CASES,
    Perm.EXPORT_CASES,
}

MATRIX: dict[str, frozenset[Perm]] = {
    Role.ADMIN: frozenset(
        _CASEWORK
        | {
            Perm.VIEW_AUDIT,
            Perm.MANAGE_USERS,
            Perm.VIEW_REPORTS,
            Perm.MANAGE_PLATFORMS,
            Perm.MANAGE_SOURCES,
            Perm.MANAGE_PARTNERS,
            Perm.MANAGE_AWARENESS,
        }
    ),
    Role.COUNSELLOR: frozenset(_CASEWORK),
    # Deletion officers work from hashes and URLs: no survivor contact details, no consent changes.
    Role.DELETION_OFFICER: frozenset(
        {
            Perm.VIEW_CASES,
            Perm.MANAGE_CONTENT,
            Perm.LOOKUP,
            Perm.TAKEDOWN,
            Perm.MANAGE_PLATFORMS,
            Perm.MANAGE_SOURCES,
            Perm.REVIEW,
            Perm.APPROVE_SHARING,
        }
    ),
    # Reviewers look at monitoring candidates: they see cases' hashes, nothing personal.
    Role.REVIEWER: frozenset({Perm.VIEW_CASES, Perm.LOOKUP, Perm.REVIEW}),
    # Analysts see anonymised aggregates only.
    Role.ANALYST: frozenset({Perm.VIEW_REPORTS}),
}


def allowed(role: str, perm: Perm) -> bool:
    return perm in MATRIX.get(role, frozenset())
