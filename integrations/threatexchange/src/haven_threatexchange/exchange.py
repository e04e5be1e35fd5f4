"""Haven's native sharing feed as a python-threatexchange SignalExchangeAPI.

Fetched state is keyed ``(signal type name, hash)``, as pytx's StopNCII exchange keys it, so
that each hash becomes one entry in the CLI's store and one bank item in HMA (whose bank items
hold one signal per type). A withdrawn or deleted item becomes a tombstone (``None``) for each of
its hashes, which every pytx store deletes.

Two items can carry the same hash (the same picture in two cases). Over one fetch the exchange
remembers which still-active items carry each hash, so that one item's tombstone leaves a hash
another active item of the same fetch carries, with that item's metadata. Across fetches it
relies on the feed's order: when item B is withdrawn while item A, fetched in an earlier run,
still carries the same hash, Haven sends A again right after B's tombstone, and applying the
records in order puts the hash back.
"""

from __future__ import annotations

import json
import time
import typing as t
from dataclasses import dataclass, field

from threatexchange.exchanges import auth, signal_exchange_api
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.signal_base import SignalType

from haven_threatexchange.client import (
    FeedbackValue,
    FeedRecord,
    HavenResponseError,
    HavenSharingClient,
    Md5FeedSignal,
    OpinionReport,
    PdqFeedSignal,
    VpdqFeedSignal,
)

__all__ = [
    "HavenCheckpoint",
    "HavenCredentials",
    "HavenFeedback",
    "HavenFeedbackKeyMissing",
    "HavenSignalExchangeAPI",
    "HavenSignalMetadata",
]

SignalKey = tuple[str, str]

# vPDQ lives in an optional pytx extension (it needs the compiled vpdq package); it is known here
# by name only, so that this module imports without it.
VPDQ_SIGNAL_NAME = "vpdq"

_STALE_AFTER_S = 3600 * 24 * 30


@dataclass
class HavenCheckpoint(state.FetchCheckpointBase):
    checkpoint: str  # the feed position to continue after
    update_time: int  # the newest updated_at fetched so far: progress for the CLI
    last_fetch_time: int

    def is_stale(self) -> bool:
        """Stale after 30 days without a fetch, as StopNCII's; the fresh full fetch that follows
        also repairs what the shared-hash limit (see the module docstring) may have dropped."""
        return time.time() - self.last_fetch_time > _STALE_AFTER_S

    def get_progress_timestamp(self) -> int | None:
        return self.update_time or None


@dataclass
class HavenFeedback:
    """A partner's feedback on the item, as Haven relays it."""

    source: str
    value: str
    tags: list[str] = field(default_factory=list)


@dataclass
class HavenSignalMetadata(state.FetchedSignalMetadata):
    """What a platform knows about one fetched hash: opaque references, never case data."""

    item_ids: list[str]  # Haven's opaque item references (several when items share the hash)
    case_refs: list[str]  # opaque case references, different for every partner
    crops: list[str]  # for PDQ: "whole" or the robust crop kinds this hash was taken from
    feedback: list[HavenFeedback]
    updated_at: int

    def get_as_opinions(self) -> t.Sequence[state.SignalOpinion]:
        opinions = [
            state.SignalOpinion(False, _opinion_category(fb.value), set(fb.tags)) for fb in self.feedback
        ]
        # Every hash comes from a survivor's case, reviewed as fit to share; a match still needs
        # the platform's own look before it acts, as with StopNCII's user-submitted hashes.
        opinions.append(state.SignalOpinion(False, state.SignalOpinionCategory.INVESTIGATION_SEED, set()))
        return opinions

    def __str__(self) -> str:
        parts = [self.get_as_aggregate_opinion().category.name]
        owners = []
        for fb in sorted(self.feedback, key=lambda f: f.source):
            category = _opinion_category(fb.value)
            if category is state.SignalOpinionCategory.POSITIVE_CLASS:
                owners.append(f"+{fb.source}")
            elif category is state.SignalOpinionCategory.NEGATIVE_CLASS:
                owners.append(f"-{fb.source}")
        if owners:
            parts.append(",".join(owners))
        if self.crops and self.crops != ["whole"]:
            parts.append("crop:" + ",".join(self.crops))
        return " ".join(parts)


@dataclass
class HavenCredentials(auth.CredentialHelper):
    """``fetch_key,subscription_key,base_url[,feedback_key[,submit_key]]``"""

    ENV_VARIABLE: t.ClassVar[str] = "TX_HAVEN_KEYS"
    FILE_NAME: t.ClassVar[str] = "~/.tx_haven_keys"

    fetch_key: str = field(metadata={"help": "Function key of the feed endpoint (x-functions-key)."})
    subscription_key: str = field(
        metadata={"help": "The partner's subscription key, sent as Ocp-Apim-Subscription-Key."}
    )
    base_url: str = field(metadata={"help": "The API root, e.g. https://haven.example.org/api/sharing/v1"})
    feedback_key: str | None = field(
        default=None, metadata={"help": "Optional. Function key of the opinions endpoint."}
    )
    submit_key: str | None = field(
        default=None, metadata={"help": "Optional. Function key of the hashes endpoint."}
    )

    @classmethod
    def _from_str(cls, s: str) -> HavenCredentials:
        parts = [p.strip() for p in s.strip().split(",")]
        if not 3 <= len(parts) <= 5:
            # Never echo the string: it holds the keys.
            raise ValueError(
                f"Haven credentials are 'fetch_key,subscription_key,base_url[,feedback_key[,submit_key]]', "
                f"got {len(parts)} comma-separated fields"
            )
        parts += [""] * (5 - len(parts))
        fetch_key, subscription_key, base_url, feedback_key, submit_key = parts
        return cls(
            fetch_key=fetch_key,
            subscription_key=subscription_key,
            base_url=base_url,
            feedback_key=feedback_key or None,
            submit_key=submit_key or None,
        )

    def _are_valid(self) -> bool:
        return bool(
            self.fetch_key and self.subscription_key and self.base_url.startswith(("https://", "http://"))
        )


class HavenFeedbackKeyMissing(auth.SignalExchangeAPIMissingAuthException):
    """Reporting an opinion needs the feedback key, which the credentials did not include."""

    def __init__(self, src_api: type[signal_exchange_api.AnySignalExchangeAPI]) -> None:
        super().__init__(src_api)
        self.add_env_hint(f"{HavenCredentials.ENV_VARIABLE} (add the feedback key as its fourth field)")
        self.add_file_hint(f"{HavenCredentials.FILE_NAME} (add the feedback key as its fourth field)")

    def pretty_str(self) -> str:
        lines = [f"No feedback key is configured for {self.src_api.get_name()}, so opinions cannot be sent."]
        lines.append("You can fix this by:")
        lines.extend(f"  {i}. {hint}" for i, hint in enumerate(self.hints, 1))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.pretty_str()


class HavenSignalExchangeAPI(
    auth.SignalExchangeWithAuth[CollaborationConfigBase, HavenCredentials],
    signal_exchange_api.SignalExchangeAPIWithSimpleUpdates[
        CollaborationConfigBase,
        HavenCheckpoint,
        HavenSignalMetadata,
    ],
):
    """The native feed of a Haven centre: hashes of consenting, reviewed cases, tombstones included."""

    PAGE_SIZE: t.ClassVar[int] = 500

    def __init__(self, collab: CollaborationConfigBase, client: HavenSharingClient) -> None:
        super().__init__()
        self.collab = collab
        self.client = client

    @classmethod
    def get_name(cls) -> str:
        return "haven"

    @staticmethod
    def get_config_cls() -> type[CollaborationConfigBase]:
        return CollaborationConfigBase

    @staticmethod
    def get_checkpoint_cls() -> type[HavenCheckpoint]:
        return HavenCheckpoint

    @staticmethod
    def get_record_cls() -> type[HavenSignalMetadata]:
        return HavenSignalMetadata

    @staticmethod
    def get_credential_cls() -> type[HavenCredentials]:
        return HavenCredentials

    @classmethod
    def for_collab(
        cls,
        collab: CollaborationConfigBase,
        credentials: HavenCredentials | None = None,
    ) -> HavenSignalExchangeAPI:
        credentials = credentials or HavenCredentials.get(cls)
        client = HavenSharingClient(
            credentials.base_url,
            credentials.subscription_key,
            fetch_key=credentials.fetch_key,
            feedback_key=credentials.feedback_key,
            submit_key=credentials.submit_key,
        )
        return cls(collab, client)

    def fetch_iter(
        self,
        supported_signal_types: t.Sequence[type[SignalType]],
        checkpoint: HavenCheckpoint | None,
    ) -> t.Iterator[state.FetchDelta[SignalKey, HavenSignalMetadata, HavenCheckpoint]]:
        vpdq_type = next((st for st in supported_signal_types if st.get_name() == VPDQ_SIGNAL_NAME), None)
        start = "0" if checkpoint is None else checkpoint.checkpoint
        update_time = 0 if checkpoint is None else checkpoint.update_time
        carriers = _ActiveCarriers(vpdq_type)
        for page in self.client.iter_feed(start, page_size=self.PAGE_SIZE):
            updates: dict[SignalKey, HavenSignalMetadata | None] = {}
            for record in page.records:
                updates.update(carriers.apply(record))
                update_time = max(update_time, record.updated_at)
            yield state.FetchDelta(updates, HavenCheckpoint(page.checkpoint, update_time, int(time.time())))

    def report_opinion(
        self,
        s_type: type[SignalType],
        signal: str,
        opinion: state.SignalOpinion,
    ) -> None:
        name = s_type.get_name()
        if name not in (PdqSignal.get_name(), VideoMD5Signal.get_name()):
            raise ValueError(f"Haven takes opinions on pdq and video_md5 hashes, not {name}")
        value = s_type.validate_signal_str(signal.strip().lower())
        if not self.client.has_key("feedback"):
            raise HavenFeedbackKeyMissing(type(self))
        self.client.report_opinions(
            [OpinionReport(name, value, _feedback_value(opinion.category), tuple(sorted(opinion.tags)))]
        )


class _ActiveCarriers:
    """Which still-active items of this fetch carry each hash, and the metadata that makes."""

    def __init__(self, vpdq_type: type[SignalType] | None) -> None:
        self._vpdq_type = vpdq_type
        self._by_key: dict[SignalKey, dict[str, HavenSignalMetadata]] = {}
        self._keys_by_item: dict[str, set[SignalKey]] = {}

    def apply(self, record: FeedRecord) -> dict[SignalKey, HavenSignalMetadata | None]:
        """The updates one record makes, in feed order: each touched hash's merged metadata, or
        ``None`` when no active item of this fetch carries it any more."""
        touched: set[SignalKey] = set()
        # Whatever the item contributed earlier in this fetch is replaced by what it says now.
        for key in self._keys_by_item.pop(record.id, set()):
            self._by_key[key].pop(record.id, None)
            touched.add(key)
        entries = _record_entries(record, self._vpdq_type)
        touched.update(entries)
        if not record.is_tombstone:
            for key, metadata in entries.items():
                self._by_key.setdefault(key, {})[record.id] = metadata
            self._keys_by_item[record.id] = set(entries)
        return {key: _merge(list(self._by_key.get(key, {}).values())) for key in sorted(touched)}


def _record_entries(
    record: FeedRecord, vpdq_type: type[SignalType] | None
) -> dict[SignalKey, HavenSignalMetadata]:
    feedback = [HavenFeedback(fb.source, fb.value, list(fb.tags)) for fb in record.feedback]
    entries: dict[SignalKey, HavenSignalMetadata] = {}
    for signal in record.signals:
        crops: list[str] = []
        if isinstance(signal, PdqFeedSignal):
            key = (PdqSignal.get_name(), signal.value)
            crops = [signal.crop]
        elif isinstance(signal, Md5FeedSignal):
            key = (VideoMD5Signal.get_name(), signal.value)
        elif isinstance(signal, VpdqFeedSignal):
            if vpdq_type is None or not signal.frames:
                continue
            key = (vpdq_type.get_name(), _vpdq_signal_str(signal, vpdq_type, record.id))
        else:  # pragma: no cover - the parser yields only the types above
            t.assert_never(signal)
        existing = entries.get(key)
        if existing is not None:
            # The same hash twice in one item (a crop that equals the whole picture).
            existing.crops = sorted({*existing.crops, *crops})
            continue
        entries[key] = HavenSignalMetadata(
            item_ids=[record.id],
            case_refs=[record.case_ref],
            crops=crops,
            feedback=list(feedback),
            updated_at=record.updated_at,
        )
    return entries


def _vpdq_signal_str(signal: VpdqFeedSignal, vpdq_type: type[SignalType], item_id: str) -> str:
    # pytx's vPDQ serialization (vpdq_util.vpdq_to_json of VpdqCompactFeature): a JSON list of
    # "pdq_hex,quality,timestamp", the timestamp in its ".3" format. Written out here so the
    # optional vpdq package is never imported; the signal type itself then checks the result.
    frames = sorted(signal.frames, key=lambda f: f.frame)
    value = json.dumps([f"{f.pdq},{f.quality},{f.seconds:.3}" for f in frames])
    try:
        return vpdq_type.validate_signal_str(value)
    except ValueError as exc:
        raise HavenResponseError(
            f"the vpdq frames of item {item_id!r} do not make a vPDQ signal: {exc}"
        ) from exc


def _merge(carriers: list[HavenSignalMetadata]) -> HavenSignalMetadata | None:
    if not carriers:
        return None
    if len(carriers) == 1:
        return carriers[0]
    feedback: list[HavenFeedback] = []
    for metadata in carriers:
        feedback.extend(fb for fb in metadata.feedback if fb not in feedback)
    return HavenSignalMetadata(
        item_ids=sorted({i for m in carriers for i in m.item_ids}),
        case_refs=sorted({c for m in carriers for c in m.case_refs}),
        crops=sorted({c for m in carriers for c in m.crops}),
        feedback=feedback,
        updated_at=max(m.updated_at for m in carriers),
    )


def _opinion_category(value: str) -> state.SignalOpinionCategory:
    if value == FeedbackValue.BLOCKED:
        return state.SignalOpinionCategory.POSITIVE_CLASS
    if value == FeedbackValue.NOT_BLOCKED:
        return state.SignalOpinionCategory.NEGATIVE_CLASS
    return state.SignalOpinionCategory.INVESTIGATION_SEED


def _feedback_value(category: state.SignalOpinionCategory) -> FeedbackValue:
    if category is state.SignalOpinionCategory.POSITIVE_CLASS:
        return FeedbackValue.BLOCKED
    if category is state.SignalOpinionCategory.NEGATIVE_CLASS:
        return FeedbackValue.NOT_BLOCKED
    return FeedbackValue.PENDING_REVIEW
