"""HavenSignalExchangeAPI against a Haven stand-in over HTTP: paging, tombstones, crops, opinions."""

from __future__ import annotations

import json
import typing as t

import pytest
from threatexchange.exchanges import auth
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.fetch_state import SignalOpinion, SignalOpinionCategory
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.signal_base import SignalType, SimpleSignalType

import haven_threatexchange
from fake_haven import (
    FEEDBACK_KEY,
    FETCH_KEY,
    SUBSCRIPTION_KEY,
    FakeHaven,
    page,
    photo,
)
from haven_threatexchange import (
    HavenCheckpoint,
    HavenCredentials,
    HavenFeedbackKeyMissing,
    HavenResponseError,
    HavenSignalExchangeAPI,
    HavenSignalMetadata,
)

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
PDQ_A_CROP = "0c1d0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b220"
PDQ_B = "d8f8f0cec0f4a84f8e370a22038f67f0b36a2ed597231e1d72e6b39c4a9c9b22"
MD5 = "9e107d9d372bb6826bd81d3542a419d6"

COLLAB = CollaborationConfigBase("Haven centre", HavenSignalExchangeAPI.get_name(), True)
SIGNAL_TYPES: list[type[SignalType]] = [PdqSignal, VideoMD5Signal]

Store = dict[tuple[str, str], HavenSignalMetadata]


def make_api(haven: FakeHaven, *, feedback_key: str | None = FEEDBACK_KEY) -> HavenSignalExchangeAPI:
    credentials = HavenCredentials(FETCH_KEY, SUBSCRIPTION_KEY, haven.base_url, feedback_key)
    return HavenSignalExchangeAPI.for_collab(COLLAB, credentials)


def fetch_into(
    store: Store,
    haven: FakeHaven,
    checkpoint: HavenCheckpoint | None = None,
    signal_types: t.Sequence[type[SignalType]] = SIGNAL_TYPES,
) -> HavenCheckpoint | None:
    """One fetch run merged as pytx's CLI merges it; returns the last checkpoint."""
    for delta in make_api(haven).fetch_iter(signal_types, checkpoint):
        HavenSignalExchangeAPI.naive_fetch_merge(store, delta.updates)
        checkpoint = delta.checkpoint
    return checkpoint


def matchable(store: Store, signal_type: type[SignalType] = PdqSignal) -> dict[str, HavenSignalMetadata]:
    converted = HavenSignalExchangeAPI.naive_convert_to_signal_type([signal_type], COLLAB, store)
    return converted.get(signal_type, {})


def test_the_manifest_loads_by_module_name() -> None:
    manifest = ThreatExchangeExtensionManifest.load_from_module_name("haven_threatexchange")

    assert manifest is haven_threatexchange.TX_MANIFEST
    assert manifest.apis == (HavenSignalExchangeAPI,)
    assert HavenSignalExchangeAPI.get_name() == "haven"


def test_it_pages_by_checkpoint_and_resumes_from_the_stored_one(haven: FakeHaven) -> None:
    haven.serve_feed(
        ("2", page("2", [photo("hvi-1", (PDQ_A, "whole"))], has_more=True)),
        ("3", page("3", [photo("hvi-2", (PDQ_B, "whole"), updated_at=1_764_871_300)])),
    )
    store: Store = {}

    checkpoint = fetch_into(store, haven)

    assert [s.query["checkpoint"] for s in haven.feed_requests()] == [["0"], ["2"]]
    assert haven.feed_requests()[0].query["page_size"] == ["500"]
    assert checkpoint is not None
    assert checkpoint.checkpoint == "3"
    assert checkpoint.get_progress_timestamp() == 1_764_871_300
    assert set(matchable(store)) == {PDQ_A, PDQ_B}

    haven.pages["3"] = (200, page("3", []))
    again = fetch_into(store, haven, checkpoint)

    assert haven.feed_requests()[-1].query["checkpoint"] == ["3"]
    assert again is not None
    assert again.checkpoint == "3"
    assert set(matchable(store)) == {PDQ_A, PDQ_B}


def test_every_request_carries_the_subscription_and_fetch_keys(haven: FakeHaven) -> None:
    haven.serve_feed(("1", page("1", [photo("hvi-1", (PDQ_A, "whole"))])))

    fetch_into({}, haven)

    headers = haven.feed_requests()[0].headers
    assert headers["Ocp-Apim-Subscription-Key"] == SUBSCRIPTION_KEY
    assert headers["x-functions-key"] == FETCH_KEY


def test_a_withdrawn_record_deletes_its_hashes_from_the_store(haven: FakeHaven) -> None:
    haven.serve_feed(("1", page("1", [photo("hvi-1", (PDQ_A, "whole"), (PDQ_A_CROP, "centre_80"))])))
    store: Store = {}
    checkpoint = fetch_into(store, haven)
    assert set(matchable(store)) == {PDQ_A, PDQ_A_CROP}

    withdrawn = photo("hvi-1", (PDQ_A, "whole"), (PDQ_A_CROP, "centre_80"), status="withdrawn")
    haven.pages["1"] = (200, page("2", [withdrawn]))
    deltas = list(make_api(haven).fetch_iter(SIGNAL_TYPES, checkpoint))

    assert deltas[0].updates == {("pdq", PDQ_A): None, ("pdq", PDQ_A_CROP): None}
    for delta in deltas:
        HavenSignalExchangeAPI.naive_fetch_merge(store, delta.updates)
    assert store == {}


def test_a_deleted_record_is_a_tombstone_too(haven: FakeHaven) -> None:
    haven.serve_feed(
        (
            "2",
            page("2", [photo("hvi-1", (PDQ_A, "whole")), photo("hvi-1", (PDQ_A, "whole"), status="deleted")]),
        )
    )
    store: Store = {}

    fetch_into(store, haven)

    assert store == {}


def test_crop_signals_are_kept_with_their_kind(haven: FakeHaven) -> None:
    haven.serve_feed(("1", page("1", [photo("hvi-1", (PDQ_A, "whole"), (PDQ_A_CROP, "centre_80"))])))
    store: Store = {}

    fetch_into(store, haven)

    signals = matchable(store)
    assert signals[PDQ_A].crops == ["whole"]
    assert signals[PDQ_A_CROP].crops == ["centre_80"]
    assert signals[PDQ_A_CROP].item_ids == ["hvi-1"]
    assert signals[PDQ_A_CROP].case_refs == ["hvc-case-1"]
    assert "crop:centre_80" in str(signals[PDQ_A_CROP])


def test_feedback_becomes_opinions(haven: FakeHaven) -> None:
    feedback = [
        {"source": "Example Platform", "value": "Blocked", "tags": ["upload-blocked"]},
        {"source": "Other Platform", "value": "NotBlocked", "tags": []},
        {"source": "Third Platform", "value": "PendingReview", "tags": []},
    ]
    haven.serve_feed(("1", page("1", [photo("hvi-1", (PDQ_A, "whole"), feedback=feedback)])))
    store: Store = {}

    fetch_into(store, haven)

    opinions = matchable(store)[PDQ_A].get_as_opinions()
    assert [(o.category, o.tags) for o in opinions] == [
        (SignalOpinionCategory.POSITIVE_CLASS, {"upload-blocked"}),
        (SignalOpinionCategory.NEGATIVE_CLASS, set()),
        (SignalOpinionCategory.INVESTIGATION_SEED, set()),
        (SignalOpinionCategory.INVESTIGATION_SEED, set()),
    ]
    assert str(matchable(store)[PDQ_A]) == "DISPUTED +Example Platform,-Other Platform"


def test_video_md5_becomes_a_video_md5_signal(haven: FakeHaven) -> None:
    video = {
        "id": "hvi-v",
        "case_ref": "hvc-case-1",
        "status": "active",
        "updated_at": 1_764_871_234,
        "kind": "video",
        "signals": [
            {"type": "video_md5", "value": MD5.upper()},
            {"type": "vpdq", "frames": [[0, 88, PDQ_A, 0.0], [30, 90, PDQ_B, 1.0]]},
        ],
        "feedback": [],
    }
    haven.serve_feed(("1", page("1", [video])))
    store: Store = {}

    fetch_into(store, haven)

    assert set(matchable(store, VideoMD5Signal)) == {MD5}
    # Without the vPDQ signal type among the supported ones, no vPDQ entry is made.
    assert {key[0] for key in store} == {"video_md5"}


class StandInVPDQSignal(SimpleSignalType):
    """pytx's VPDQSignal needs the compiled vpdq package; this checks its serialization the same way."""

    @classmethod
    def get_name(cls) -> str:
        return "vpdq"

    @classmethod
    def get_content_types(cls) -> list[t.Any]:
        return []

    @classmethod
    def validate_signal_str(cls, signal_str: str) -> str:
        for feature in json.loads(signal_str):
            pdq_hex, quality, timestamp = feature.split(",")
            if len(pdq_hex) != 64 or not 0 <= int(quality) <= 100 or float(timestamp) < 0:
                raise ValueError(f"invalid vPDQ feature {feature}")
        return signal_str


def test_vpdq_frames_are_emitted_when_the_vpdq_signal_type_is_supported(haven: FakeHaven) -> None:
    video = {
        "id": "hvi-v",
        "case_ref": "hvc-case-1",
        "status": "active",
        "updated_at": 1_764_871_234,
        "kind": "video",
        "signals": [{"type": "vpdq", "frames": [[30, 90, PDQ_B, 1.0], [0, 88, PDQ_A, 0.0]]}],
        "feedback": [],
    }
    haven.serve_feed(("1", page("1", [video])))
    store: Store = {}

    fetch_into(store, haven, signal_types=[*SIGNAL_TYPES, StandInVPDQSignal])

    [value] = matchable(store, StandInVPDQSignal)
    assert json.loads(value) == [f"{PDQ_A},88,0.0", f"{PDQ_B},90,1.0"]


def test_a_tombstone_keeps_a_hash_another_active_item_in_the_same_page_carries(haven: FakeHaven) -> None:
    haven.serve_feed(
        (
            "3",
            page(
                "3",
                [
                    photo("hvi-1", (PDQ_A, "whole"), case_ref="hvc-case-1"),
                    photo("hvi-2", (PDQ_A, "whole"), case_ref="hvc-case-2"),
                    photo("hvi-1", (PDQ_A, "whole"), case_ref="hvc-case-1", status="withdrawn"),
                ],
            ),
        )
    )
    store: Store = {}

    fetch_into(store, haven)

    kept = matchable(store)[PDQ_A]
    assert kept.item_ids == ["hvi-2"]
    assert kept.case_refs == ["hvc-case-2"]


def test_a_tombstone_keeps_a_hash_an_active_item_of_an_earlier_page_carries(haven: FakeHaven) -> None:
    haven.serve_feed(
        ("1", page("1", [photo("hvi-1", (PDQ_A, "whole")), photo("hvi-2", (PDQ_A, "whole"))], has_more=True)),
        ("2", page("2", [photo("hvi-1", (PDQ_A, "whole"), status="withdrawn")])),
    )
    store: Store = {}

    fetch_into(store, haven)

    assert matchable(store)[PDQ_A].item_ids == ["hvi-2"]


def test_while_two_active_items_share_a_hash_its_metadata_names_both(haven: FakeHaven) -> None:
    haven.serve_feed(
        (
            "2",
            page(
                "2",
                [
                    photo("hvi-1", (PDQ_A, "whole"), case_ref="hvc-case-1"),
                    photo("hvi-2", (PDQ_A, "centre_80"), case_ref="hvc-case-2"),
                ],
            ),
        )
    )
    store: Store = {}

    fetch_into(store, haven)

    both = matchable(store)[PDQ_A]
    assert both.item_ids == ["hvi-1", "hvi-2"]
    assert both.crops == ["centre_80", "whole"]


def test_a_tombstone_in_a_later_run_deletes_a_hash_until_the_active_twin_is_sent_again(
    haven: FakeHaven,
) -> None:
    # Each fetch sees only its own items: alone, the tombstone of hvi-1 deletes the hash hvi-2 of
    # an earlier run carries. Haven sends hvi-2 again after the tombstone, which puts it back.
    haven.serve_feed(("2", page("2", [photo("hvi-1", (PDQ_A, "whole")), photo("hvi-2", (PDQ_A, "whole"))])))
    store: Store = {}
    checkpoint = fetch_into(store, haven)
    haven.pages["2"] = (200, page("3", [photo("hvi-1", (PDQ_A, "whole"), status="withdrawn")]))
    fetch_into(store, haven, checkpoint)
    assert store == {}
    haven.pages["2"] = (
        200,
        page("4", [photo("hvi-1", (PDQ_A, "whole"), status="withdrawn"), photo("hvi-2", (PDQ_A, "whole"))]),
    )
    fetch_into(store, haven, checkpoint)
    assert list(store) == [("pdq", PDQ_A)]


def test_a_checkpoint_that_goes_backwards_raises(haven: FakeHaven) -> None:
    haven.pages["5"] = (200, page("4", []))
    stale = HavenCheckpoint("5", 0, 0)

    with pytest.raises(HavenResponseError, match="backwards"):
        list(make_api(haven).fetch_iter(SIGNAL_TYPES, stale))


def test_a_checkpoint_is_stale_after_thirty_days() -> None:
    import time

    now = int(time.time())
    assert not HavenCheckpoint("7", 0, now - 29 * 24 * 3600).is_stale()
    assert HavenCheckpoint("7", 0, now - 31 * 24 * 3600).is_stale()


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        (SignalOpinionCategory.POSITIVE_CLASS, "Blocked"),
        (SignalOpinionCategory.NEGATIVE_CLASS, "NotBlocked"),
        (SignalOpinionCategory.INVESTIGATION_SEED, "PendingReview"),
    ],
)
def test_report_opinion_posts_the_opinion_with_the_feedback_key(
    haven: FakeHaven, category: SignalOpinionCategory, expected: str
) -> None:
    make_api(haven).report_opinion(PdqSignal, PDQ_A.upper() + "\n", SignalOpinion(True, category, {"b", "a"}))

    [sent] = haven.seen
    assert (sent.method, sent.path) == ("POST", "/api/sharing/v1/opinions")
    assert sent.headers["x-functions-key"] == FEEDBACK_KEY
    assert sent.headers["Ocp-Apim-Subscription-Key"] == SUBSCRIPTION_KEY
    assert sent.body == {
        "opinions": [{"type": "pdq", "value": PDQ_A, "opinion": expected, "tags": ["a", "b"]}]
    }


def test_report_opinion_without_a_feedback_key_says_how_to_add_one(haven: FakeHaven) -> None:
    api = make_api(haven, feedback_key=None)

    with pytest.raises(HavenFeedbackKeyMissing) as caught:
        api.report_opinion(PdqSignal, PDQ_A, SignalOpinion(True, SignalOpinionCategory.POSITIVE_CLASS, set()))

    assert isinstance(caught.value, auth.SignalExchangeAPIMissingAuthException)
    assert "No feedback key is configured for haven" in str(caught.value)
    assert "TX_HAVEN_KEYS" in str(caught.value)
    assert haven.seen == []


def test_report_opinion_refuses_a_signal_type_haven_does_not_take(haven: FakeHaven) -> None:
    with pytest.raises(ValueError, match="pdq and video_md5"):
        make_api(haven).report_opinion(
            StandInVPDQSignal, "[]", SignalOpinion(True, SignalOpinionCategory.POSITIVE_CLASS, set())
        )
    assert haven.seen == []


def test_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TX_HAVEN_KEYS", " f,s,https://haven.example.org/api/sharing/v1/ ,fb ")

    credentials = HavenCredentials.get(HavenSignalExchangeAPI)

    assert credentials == HavenCredentials("f", "s", "https://haven.example.org/api/sharing/v1/", "fb")
    api = HavenSignalExchangeAPI.for_collab(COLLAB, credentials)
    assert api.client.base_url == "https://haven.example.org/api/sharing/v1"
    assert api.client.has_key("feedback")
    assert not api.client.has_key("submit")


def test_credentials_come_from_the_keys_file(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    monkeypatch.delenv("TX_HAVEN_KEYS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".tx_haven_keys").write_text("f,s,http://127.0.0.1:9/api/sharing/v1,,sub\n")

    credentials = HavenCredentials.get(HavenSignalExchangeAPI)

    assert credentials.feedback_key is None
    assert credentials.submit_key == "sub"


@pytest.mark.parametrize("value", ["f,s", "f,s,ftp://x", ",s,https://x", "a,b,c,d,e,f"])
def test_bad_credentials_are_refused_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str
) -> None:
    monkeypatch.setenv("TX_HAVEN_KEYS", value)

    with pytest.raises(auth.SignalExchangeAPIInvalidAuthException):
        HavenCredentials.get(HavenSignalExchangeAPI)
    assert value not in caplog.text


def test_missing_credentials_say_where_to_put_them(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    monkeypatch.delenv("TX_HAVEN_KEYS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))

    with pytest.raises(auth.SignalExchangeAPIMissingAuthException) as caught:
        HavenSignalExchangeAPI.for_collab(COLLAB)

    assert "TX_HAVEN_KEYS" in caught.value.pretty_str()
    assert "~/.tx_haven_keys" in caught.value.pretty_str()
