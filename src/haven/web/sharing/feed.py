"""Reading the feed for a partner: StopNCII's pages by timestamp and token, the native pages by position.

A page is read in one transaction that also records which active rows the partner was sent
(``Delivery``): a tombstone is shown only to partners with such a record.  Rows are read as tuples
and written straight to JSON: a first sync of a million hashes must not build a million model
instances.

Feedback in a record: a partner sees its own in full; of other partners' only the value, without
their name or tags, since which platform found a copy says where the survivor's picture appeared.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core import signing
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from haven.web.core.db import EpochSeconds

from .actions import RefMaker, record_fetch
from .models import Delivery, Feedback, FeedHead, Partner, SharedItem, ShareStatus

PAGE_MAX = 1000
TOKEN_MAX_AGE = 3600  # seconds a nextPageToken stays good
_TOKEN_SALT = "haven.sharing.page-token"  # noqa: S105  # a signing namespace, not a secret

STOPNCII_STATUS: dict[str, str] = {
    ShareStatus.ACTIVE: "Active",
    ShareStatus.WITHDRAWN: "Withdrawn",
    ShareStatus.DELETED: "Deleted",
}


class FeedError(ValueError):
    """A page request that cannot be answered (expired or altered token, unknown checkpoint)."""


def visible_rows(partner: Partner) -> QuerySet[SharedItem]:
    """The rows this partner may see: active ones, and tombstones of rows it was sent."""
    received = Delivery.objects.filter(partner_id=partner.pk, item_id=OuterRef("pk"))
    return SharedItem.objects.filter(organisation_id=partner.organisation_id, purged=False).filter(
        Q(status=ShareStatus.ACTIVE) | Exists(received)
    )


def _feedback(partner: Partner, low: int, high: int) -> dict[int, list[dict[str, Any]]]:
    """Feedback on the rows at positions ``low < seq <= high`` (a page), by row."""
    out: dict[int, list[dict[str, Any]]] = {}
    if high <= low:
        return out
    rows = (
        Feedback.objects.filter(
            item__organisation_id=partner.organisation_id, item__seq__gt=low, item__seq__lte=high
        )
        .order_by("id")
        .values_list("item_id", "value", "tags", "partner_id", "partner__name")
    )
    for item_id, value, tags, partner_id, source in rows:
        mine = partner_id == partner.pk
        out.setdefault(item_id, []).append(
            {"feedbackValue": value, "tags": tags if mine else [], "source": source if mine else ""}
        )
    return out


def stopncii_page(partner: Partner, *, start: int, page_size: int, token: str | None) -> bytes:
    """One FetchHashes page as JSON (see docs/sharing.md)."""
    with transaction.atomic():
        if token:
            try:
                state = signing.loads(token, salt=_TOKEN_SALT, max_age=TOKEN_MAX_AGE)
            except signing.SignatureExpired:
                raise FeedError(
                    "the page token has expired; fetch again from the last nextSetTimestamp"
                ) from None
            except signing.BadSignature:
                raise FeedError("the page token is not one this server gave") from None
            if not isinstance(state, dict) or state.get("p") != partner.pk or state.get("s") != start:
                raise FeedError("the page token belongs to another fetch (partner or startTimestamp)")
            cursor, floor = int(state["c"]), int(state["t"])
        else:
            since = dt.datetime.fromtimestamp(start, tz=dt.UTC)
            before = (
                SharedItem.objects.filter(organisation_id=partner.organisation_id, modified_at__lt=since)
                .order_by("-modified_at", "-seq")
                .values_list("seq", flat=True)
                .first()
            )
            cursor, floor = before or 0, start
        rows = list(
            visible_rows(partner)
            .filter(seq__gt=cursor)
            .exclude(stopncii_value="")
            .order_by("seq")
            .annotate(seconds=EpochSeconds(F("modified_at")))
            .values_list("pk", "seq", "case_key", "stopncii_type", "stopncii_value", "status", "seconds")[
                : page_size + 1
            ]
        )
        more = len(rows) > page_size
        rows = rows[:page_size]
        feedback = _feedback(partner, cursor, rows[-1][1] if rows else cursor)
        refs = RefMaker(partner.pk)
        records = []
        for pk, _seq, case_key, signal_type, value, status, seconds in rows:
            word = STOPNCII_STATUS[status]
            records.append(
                {
                    "lastModtimestamp": seconds,
                    "signalType": signal_type,
                    "hashValue": value,
                    "hashStatus": word,
                    "caseNumbers": {refs.case(case_key): word},
                    "CSPFeedbacks": feedback.get(pk, []),
                }
            )
        checkpoint = max(floor, rows[-1][6]) if rows else floor
        next_token = (
            signing.dumps({"p": partner.pk, "s": start, "c": rows[-1][1], "t": checkpoint}, salt=_TOKEN_SALT)
            if more
            else None
        )
        sent = [row[0] for row in rows if row[5] == ShareStatus.ACTIVE]
        record_fetch(partner=partner, low=cursor, sent=sent, count=len(rows))
    body = {
        "count": len(records),
        "nextPageToken": next_token,
        "nextSetTimestamp": checkpoint,
        "hasMoreRecords": more,
        "hashRecords": records,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _signals(kind: str, pdq: str, quality: int | None, md5: str, extra: Any, frames: Any) -> list[Any]:
    signals: list[dict[str, Any]] = []
    if pdq:
        signals.append({"type": "pdq", "value": pdq, "quality": quality, "crop": "whole"})
        for entry in extra or ():
            signal = {"type": "pdq", "value": entry["pdq"], "crop": entry["kind"]}
            if entry.get("quality") is not None:
                signal["quality"] = entry["quality"]
            signals.append(signal)
    if md5 and kind == "video":
        signals.append({"type": "video_md5", "value": md5})
    if frames:
        signals.append({"type": "vpdq", "frames": frames})
    return signals


def native_page(partner: Partner, *, checkpoint: int, page_size: int) -> bytes:
    """One page of the native feed as JSON, from just after ``checkpoint`` (a feed position)."""
    with transaction.atomic():
        head = FeedHead.objects.filter(organisation_id=partner.organisation_id).first()
        if checkpoint > (head.seq if head else 0):
            raise FeedError("this checkpoint is not one this feed gave (it is past the end)")
        rows = list(
            visible_rows(partner)
            .filter(seq__gt=checkpoint)
            .order_by("seq")
            .annotate(seconds=EpochSeconds(F("modified_at")))
            .values_list(
                "pk",
                "seq",
                "case_key",
                "status",
                "seconds",
                "kind",
                "pdq",
                "quality",
                "md5",
                "extra",
                "video_frames",
            )[: page_size + 1]
        )
        more = len(rows) > page_size
        rows = rows[:page_size]
        feedback = _feedback(partner, checkpoint, rows[-1][1] if rows else checkpoint)
        refs = RefMaker(partner.pk)
        records = []
        for pk, _seq, case_key, status, seconds, kind, pdq, quality, md5, extra, frames in rows:
            records.append(
                {
                    "id": refs.item(pk),
                    "case_ref": refs.case(case_key),
                    "status": status,
                    "updated_at": seconds,
                    "kind": kind,
                    "signals": _signals(kind, pdq, quality, md5, extra, frames),
                    "feedback": [
                        {"source": f["source"], "value": f["feedbackValue"], "tags": f["tags"]}
                        for f in feedback.get(pk, [])
                    ],
                }
            )
        high = rows[-1][1] if rows else None
        sent = [row[0] for row in rows if row[3] == ShareStatus.ACTIVE]
        record_fetch(partner=partner, low=checkpoint, sent=sent, count=len(rows))
    body = {
        "checkpoint": str(high if high is not None else checkpoint),
        "has_more": more,
        "records": records,
    }
    return json.dumps(body, separators=(",", ":")).encode()
