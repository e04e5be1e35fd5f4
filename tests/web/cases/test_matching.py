"""The in-process index follows the database: several processes see each write at once."""

from __future__ import annotations

import pytest

from haven.signals import PdqHash
from haven.web.cases import actions
from haven.web.cases.matching import ContentIndex
from haven.web.cases.models import Case

from ..conftest import Persona

pytestmark = pytest.mark.django_db

PDQ = PdqHash.from_hex("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22")


def _items(index: ContentIndex, org: int) -> set[int]:
    return {h.item_id for h in index.lookup(org, pdq=[PDQ])}


def test_two_processes_see_each_others_writes_before_the_next_lookup(case: Case, counsellor: Persona) -> None:
    first, second = ContentIndex(), ContentIndex()  # two server processes
    org = counsellor.user.organisation_id
    assert _items(first, org) == _items(second, org) == set()
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    (item,) = actions.add_content(
        actor=counsellor.user, case=case, items=[actions.HashInput(label="p", pdq=str(PDQ))]
    )
    assert _items(first, org) == _items(second, org) == {item.pk}
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=False, method="phone")
    assert _items(first, org) == _items(second, org) == set()
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    assert _items(second, org) == {item.pk}
    actions.remove_content(actor=counsellor.user, item=item)
    assert _items(first, org) == _items(second, org) == set()


def test_a_new_process_loads_the_current_state(case: Case, counsellor: Persona) -> None:
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    items = actions.add_content(
        actor=counsellor.user,
        case=case,
        # Three different pictures: the same hashes twice would not be added again.
        items=[actions.HashInput(label=f"p{i}", pdq=f"{i:x}{str(PDQ)[1:]}") for i in range(3)],
    )
    actions.remove_content(actor=counsellor.user, item=items[0])
    fresh = ContentIndex()
    assert _items(fresh, counsellor.user.organisation_id) == {items[1].pk, items[2].pk}


def test_withdrawing_another_scope_does_not_touch_matching(case: Case, counsellor: Persona) -> None:
    index = ContentIndex()
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    (item,) = actions.add_content(
        actor=counsellor.user, case=case, items=[actions.HashInput(label="p", pdq=str(PDQ))]
    )
    actions.record_consent(actor=counsellor.user, case=case, scope="share", granted=False, method="phone")
    assert _items(index, counsellor.user.organisation_id) == {item.pk}


def test_a_change_that_commits_after_a_later_one_is_still_replayed(case: Case, counsellor: Persona) -> None:
    """Two transactions take versions v and v+1; v+1 commits first. A process that synced in
    between has seen v+1 but not v: the next lookup must still find what v adds."""
    from django.db.models import Max

    from haven.web.cases.models import ContentItem, IndexChange

    index = ContentIndex()
    org = counsellor.user.organisation_id
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    (first,) = actions.add_content(
        actor=counsellor.user, case=case, items=[actions.HashInput(label="p", pdq=str(PDQ))]
    )
    assert _items(index, org) == {first.pk}
    top = IndexChange.objects.aggregate(v=Max("version"))["v"]
    late = ContentItem.objects.create(organisation_id=org, case=case, label="late", pdq=str(PDQ))
    IndexChange.objects.create(version=top + 2, content_item=first, op=IndexChange.Op.ADD)
    assert _items(index, org) == {first.pk}  # v+1 seen; v is still a hole
    IndexChange.objects.create(version=top + 1, content_item=late, op=IndexChange.Op.ADD)
    assert _items(index, org) == {first.pk, late.pk}
