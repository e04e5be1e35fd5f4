"""HavenSharingClient over HTTP: garbage from the server raises, errors carry Haven's detail."""

from __future__ import annotations

import copy
import typing as t

import pytest

from fake_haven import FETCH_KEY, SUBMIT_KEY, SUBSCRIPTION_KEY, FakeHaven, page, photo
from haven_threatexchange import (
    HavenHTTPError,
    HavenKeyMissingError,
    HavenResponseError,
    HavenSharingClient,
    SubmittedHash,
)

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
GOOD = photo("hvi-1", (PDQ, "whole"))


def client(haven: FakeHaven, **kwargs: t.Any) -> HavenSharingClient:
    kwargs.setdefault("fetch_key", FETCH_KEY)
    return HavenSharingClient(haven.base_url, SUBSCRIPTION_KEY, **kwargs)


def with_record(**changes: t.Any) -> dict[str, t.Any]:
    record = copy.deepcopy(GOOD)
    for name, value in changes.items():
        if value is ...:
            del record[name]
        else:
            record[name] = value
    return page("1", [record])


def test_a_good_page_parses(haven: FakeHaven) -> None:
    haven.pages["0"] = (200, page("1", [GOOD]))

    parsed = client(haven).fetch_page("0")

    assert parsed.checkpoint == "1"
    assert not parsed.has_more
    [record] = parsed.records
    assert (record.id, record.case_ref, record.status, record.kind) == (
        "hvi-1",
        "hvc-case-1",
        "active",
        "photo",
    )
    [signal] = record.signals
    assert (signal.value, signal.crop, signal.quality) == (PDQ, "whole", 90)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((200, b"<html>Service Unavailable</html>"), "not JSON"),
        ((200, b""), "not JSON"),
        ((200, ["not", "an", "object"]), "expected an object"),
        ((200, {"has_more": False, "records": []}), "missing 'checkpoint'"),
        ((200, {"checkpoint": 3, "has_more": False, "records": []}), "string of digits"),
        ((200, {"checkpoint": "-1", "has_more": False, "records": []}), "string of digits"),
        ((200, {"checkpoint": "abc", "has_more": False, "records": []}), "string of digits"),
        ((200, {"checkpoint": "1", "has_more": "no", "records": []}), "true or false"),
        ((200, {"checkpoint": "1", "has_more": False, "records": {}}), "expected a list"),
        ((200, {"checkpoint": "1", "has_more": False}), "missing 'records'"),
        ((200, with_record(id=...)), "missing 'id'"),
        ((200, with_record(id="")), "non-empty"),
        ((200, with_record(case_ref=None)), "case_ref: expected a string"),
        ((200, with_record(status="paused")), "unknown status 'paused'"),
        ((200, with_record(updated_at="yesterday")), "updated_at: expected an integer"),
        ((200, with_record(updated_at=True)), "updated_at: expected an integer"),
        ((200, with_record(signals=None)), "signals: expected a list"),
        ((200, with_record(signals=[{"type": "pdq", "value": "xyz", "crop": "whole"}])), "64 hex digits"),
        ((200, with_record(signals=[{"type": "pdq", "value": PDQ}])), "missing 'crop'"),
        (
            (200, with_record(signals=[{"type": "pdq", "value": PDQ, "crop": "whole", "quality": 101}])),
            "range",
        ),
        ((200, with_record(signals=[{"type": "video_md5", "value": PDQ}])), "32 hex digits"),
        ((200, with_record(signals=[{"type": "vpdq", "frames": [[0, 90, PDQ]]}])), "expected [frame"),
        ((200, with_record(signals=[{"type": "vpdq", "frames": [[0, 90, PDQ, "0"]]}])), "seconds"),
        ((200, with_record(signals=["pdq"])), "expected an object"),
        (
            (200, with_record(feedback=[{"source": "P", "value": "Blocked", "tags": "x"}])),
            "tags: expected a list",
        ),
        ((200, with_record(feedback=...)), "missing 'feedback'"),
        ((200, with_record(status="withdrawn", signals=[])), "lists no signals"),
    ],
)
def test_garbage_from_the_server_raises(haven: FakeHaven, answer: t.Any, message: str) -> None:
    haven.pages["0"] = answer

    with pytest.raises(HavenResponseError) as caught:
        client(haven).fetch_page("0")

    assert message in str(caught.value)


def test_an_unknown_signal_type_is_skipped_not_stored(haven: FakeHaven) -> None:
    haven.pages["0"] = (200, with_record(signals=[{"type": "tmk", "value": "..."}, GOOD["signals"][0]]))

    [record] = client(haven).fetch_page("0").records

    assert [s.type for s in record.signals] == ["pdq"]


def test_a_checkpoint_that_does_not_advance_while_promising_more_raises(haven: FakeHaven) -> None:
    haven.pages["4"] = (200, page("4", [], has_more=True))

    with pytest.raises(HavenResponseError, match="did not advance"):
        list(client(haven).iter_feed("4"))


def test_records_that_leave_the_checkpoint_where_it_was_raise(haven: FakeHaven) -> None:
    haven.pages["4"] = (200, page("4", [GOOD]))

    with pytest.raises(HavenResponseError, match="did not advance"):
        list(client(haven).iter_feed("4"))


def test_an_empty_page_at_the_same_checkpoint_is_up_to_date(haven: FakeHaven) -> None:
    haven.pages["4"] = (200, page("4", []))

    assert [p.checkpoint for p in client(haven).iter_feed("4")] == ["4"]


def test_checkpoints_are_compared_as_positions_not_strings(haven: FakeHaven) -> None:
    haven.pages["9"] = (200, page("10", [GOOD]))

    assert [p.checkpoint for p in client(haven).iter_feed("9")] == ["10"]


def test_an_error_status_carries_havens_detail(haven: FakeHaven) -> None:
    haven.pages["0"] = (401, {"detail": "Invalid or revoked key."})

    with pytest.raises(HavenHTTPError) as caught:
        client(haven).fetch_page("0")

    assert caught.value.status == 401
    assert caught.value.detail == "Invalid or revoked key."
    assert "401" in str(caught.value)


def test_a_busy_server_is_retried(haven: FakeHaven) -> None:
    haven.queued = [(503, {"detail": "busy"}), (429, {"detail": "slow down"})]
    haven.pages["0"] = (200, page("1", [GOOD]))

    parsed = client(haven).fetch_page("0")

    assert parsed.checkpoint == "1"
    assert len(haven.seen) == 3


def test_a_server_that_stays_busy_gives_a_clear_error(haven: FakeHaven) -> None:
    haven.queued = [(503, {"detail": "busy"})] * 3

    with pytest.raises(HavenHTTPError) as caught:
        client(haven, retries=2).fetch_page("0")

    assert caught.value.status == 503
    assert caught.value.detail == "busy"


def test_a_redirect_is_not_followed_with_the_keys(haven: FakeHaven) -> None:
    haven.pages["0"] = (302, {"detail": "moved"})

    with pytest.raises(HavenHTTPError) as caught:
        client(haven).fetch_page("0")

    assert caught.value.status == 302


def test_an_unreachable_server_gives_a_clear_error() -> None:
    unreachable = HavenSharingClient("http://127.0.0.1:9/api/sharing/v1", "s", fetch_key="f", retries=0)

    with pytest.raises(HavenHTTPError, match="could not reach Haven"):
        unreachable.fetch_page()


def test_page_size_is_checked_before_asking(haven: FakeHaven) -> None:
    with pytest.raises(ValueError, match="page_size"):
        client(haven).fetch_page("0", page_size=1001)
    assert haven.seen == []


def test_submit_hashes_posts_them_with_the_submit_key(haven: FakeHaven) -> None:
    haven.post_answer = (200, {"accepted": 2})

    accepted = client(haven, submit_key=SUBMIT_KEY).submit_hashes(
        [SubmittedHash("pdq", PDQ, ("found-on-upload",)), SubmittedHash("video_md5", "9e10" * 8)]
    )

    assert accepted == 2
    [sent] = haven.seen
    assert (sent.method, sent.path) == ("POST", "/api/sharing/v1/hashes")
    assert sent.headers["x-functions-key"] == SUBMIT_KEY
    assert sent.body == {
        "hashes": [
            {"type": "pdq", "value": PDQ, "tags": ["found-on-upload"]},
            {"type": "video_md5", "value": "9e10" * 8, "tags": []},
        ]
    }


def test_submit_hashes_without_a_submit_key_asks_nothing(haven: FakeHaven) -> None:
    with pytest.raises(HavenKeyMissingError, match="no submit key"):
        client(haven).submit_hashes([SubmittedHash("pdq", PDQ)])
    assert haven.seen == []


def test_a_post_answer_without_a_count_raises(haven: FakeHaven) -> None:
    haven.post_answer = (200, {"ok": True})

    with pytest.raises(HavenResponseError, match="accepted"):
        client(haven, submit_key=SUBMIT_KEY).submit_hashes([SubmittedHash("pdq", PDQ)])
