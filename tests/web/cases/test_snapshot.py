"""Index snapshots: a process that maps one answers every lookup exactly as a process that loaded
every item into its own memory, before and after the changes that follow the snapshot."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings

from haven.signals import CROPS, Md5, PdqHash, QuerySignal, Sha256
from haven.web.accounts.models import Organisation, User
from haven.web.cases import actions, matching, snapshot
from haven.web.cases.matching import ContentIndex
from haven.web.cases.models import Case, ContentItem

from ..conftest import Persona

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def index_dir(tmp_path: Path) -> Iterator[Path]:
    with override_settings(HAVEN_INDEX_DIR=tmp_path / "index"):
        yield tmp_path / "index"


def _near(h: PdqHash, rng: random.Random, bits: int) -> PdqHash:
    value = int(str(h), 16)
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return PdqHash.from_hex(f"{value:064x}")


def _random_hash(rng: random.Random) -> PdqHash:
    return PdqHash.from_hex(f"{rng.getrandbits(256):064x}")


def _digest(rng: random.Random, size: int) -> bytes:
    # Every eighth digest ends in zero bytes: fixed-width byte strings must not lose them.
    raw = rng.randbytes(size)
    return raw[: size - 3] + b"\0\0\0" if rng.random() < 0.125 else raw


class Corpus:
    """Cases of two organisations with photos (whole PDQ, crops, digests, some shared) and videos."""

    def __init__(self, counsellor: User, outsider: User, seed: int = 7) -> None:
        self.rng = rng = random.Random(seed)
        self.centres = {counsellor.organisation_id: counsellor, outsider.organisation_id: outsider}
        self.bases = [_random_hash(rng) for _ in range(12)]
        self.md5s = [_digest(rng, 16) for _ in range(15)]
        self.sha256s = [_digest(rng, 32) for _ in range(15)]
        self.cases: list[Case] = []
        for n in range(8):
            actor = counsellor if n % 3 else outsider
            case = actions.create_case(actor=actor)
            if n != 5:  # one case never consents to monitoring: none of its items may match
                actions.record_consent(actor=actor, case=case, scope="monitor", granted=True, method="phone")
            self.add(case, 6)
            self.cases.append(case)

    def item(self, label: str) -> actions.HashInput:
        rng = self.rng
        base = rng.choice(self.bases)
        if rng.random() < 0.25:
            frames = tuple(
                (k, rng.choice((20, 80, 100)), str(_near(base, rng, rng.randrange(0, 40))), float(k))
                for k in range(rng.randrange(1, 5))
            )
            return actions.HashInput(
                label, kind="video", video_frames=frames, md5=rng.choice(self.md5s).hex()
            )
        extra = [
            {
                "kind": kind,
                "pdq": str(_near(base, rng, rng.randrange(0, 40))),
                "quality": rng.choice((30, 90)),
            }
            for kind in rng.sample(list(CROPS), rng.randrange(0, 4))
        ]
        return actions.HashInput(
            label,
            pdq=str(_near(base, rng, rng.randrange(0, 40))),
            md5=rng.choice(self.md5s).hex() if rng.random() < 0.8 else "",
            sha256=rng.choice(self.sha256s).hex() if rng.random() < 0.8 else "",
            extra=extra,
        )

    def add(self, case: Case, n: int) -> list[ContentItem]:
        actor = self.centres[case.organisation_id]
        return actions.add_content(actor=actor, case=case, items=[self.item(f"i{k}") for k in range(n)])

    def queries(self) -> list[dict[str, object]]:
        rng, out = random.Random(99), []
        for base in self.bases:
            near = _near(base, rng, rng.randrange(0, 30))
            crops = [
                QuerySignal(name, (_near(base, rng, 10),), 100, frozenset({name})) for name in list(CROPS)[:3]
            ]
            out.append(
                {
                    "pdq": [near, _random_hash(rng)],
                    "md5": [Md5(d) for d in rng.sample(self.md5s, 3)],
                    "sha256": [Sha256(d) for d in rng.sample(self.sha256s, 3)],
                    "pictures": [[QuerySignal("whole", (near,), 100), *crops]],
                    "radius": rng.choice((10, 31, 40)),
                }
            )
        return out


class Loaded(ContentIndex):
    """The reference: a process that loads every item into its own memory, never a snapshot."""

    def _newer_snapshot(self) -> None:
        return None


def _answers(index: ContentIndex, corpus: Corpus) -> list[list[tuple[object, ...]]]:
    return [
        sorted(
            (h.kind, h.query, h.item_id, h.distance, h.signal)
            for h in index.lookup(org, **query)  # type: ignore[arg-type]
        )
        for org in corpus.centres
        for query in corpus.queries()
    ]


@pytest.fixture
def corpus(counsellor: Persona, outsider: Persona) -> Corpus:
    return Corpus(counsellor.user, outsider.user)


def test_a_mapped_snapshot_answers_as_a_full_load_does_before_and_after_changes(corpus: Corpus) -> None:
    ContentIndex().write_snapshot()
    mapped = ContentIndex()
    mapped.sync()
    assert mapped.snapshot is not None
    assert len(mapped._memory) == 0  # nothing loaded into the process itself
    found = _answers(mapped, corpus)
    assert sum(map(len, found)) > 50  # the corpus does match: the comparison below means something
    assert found == _answers(Loaded(), corpus)
    loaded = Loaded()
    loaded.sync()
    assert len(mapped) == len(loaded) > 0

    # Changes after the snapshot: a withdrawal, a removal, new content, a renewed consent.
    first, second, third = corpus.cases[1], corpus.cases[2], corpus.cases[5]
    actor = corpus.centres[first.organisation_id]
    actions.record_consent(actor=actor, case=first, scope="monitor", granted=False, method="phone")
    gone = ContentItem.objects.filter(case=second).first()
    assert gone is not None
    actions.remove_content(actor=corpus.centres[second.organisation_id], item=gone)
    corpus.add(second, 4)
    third_actor = corpus.centres[third.organisation_id]
    actions.record_consent(actor=third_actor, case=third, scope="monitor", granted=True, method="phone")
    after = _answers(mapped, corpus)
    assert after == _answers(Loaded(), corpus)
    assert after != found
    everything = Loaded()
    everything.sync()
    assert len(mapped) == len(everything)
    assert 0 < len(mapped._memory) < len(everything)  # only the changed items are in memory


def test_a_process_switches_to_a_newer_snapshot_and_drops_what_it_replayed(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    ContentIndex().write_snapshot()
    mapped = ContentIndex()
    mapped.sync()
    corpus.add(corpus.cases[0], 5)
    mapped.sync()
    assert len(mapped._memory) == 5
    old = mapped.snapshot
    ContentIndex().write_snapshot()
    monkeypatch.setattr(matching, "SNAPSHOT_CHECK_SECONDS", 0.0)
    expected = _answers(Loaded(), corpus)
    assert _answers(mapped, corpus) == expected
    assert mapped.snapshot is not None
    assert old is not None
    assert mapped.snapshot.version > old.version
    assert len(mapped._memory) == 0


def test_only_the_newest_snapshots_are_kept(corpus: Corpus, index_dir: Path) -> None:
    paths = []
    for _ in range(4):
        corpus.add(corpus.cases[0], 1)
        paths.append(ContentIndex().write_snapshot())
        assert paths[-1].name == f"{int(paths[-1].name):015d}"
    kept = sorted(p.name for p in (index_dir / "content").iterdir())
    assert kept == [p.name for p in paths[-snapshot.KEEP :]]


def test_a_damaged_snapshot_is_not_used(corpus: Corpus, caplog: pytest.LogCaptureFixture) -> None:
    path = ContentIndex().write_snapshot()
    (path / "md5_item.npy").write_bytes(b"not an array")
    index = ContentIndex()
    assert _answers(index, corpus) == _answers(Loaded(), corpus)
    assert index.snapshot is None
    assert "index snapshot not used" in caplog.text


def test_a_snapshot_whose_arrays_disagree_is_not_used(corpus: Corpus) -> None:
    path = ContentIndex().write_snapshot()
    np.save(path / "orgs.npy", np.zeros(3, dtype=np.int64))
    with pytest.raises(snapshot.SnapshotError, match="do not agree"):
        snapshot.Snapshot(path)


def test_digests_that_end_in_zero_bytes_are_found(counsellor: Persona, case: Case) -> None:
    actions.record_consent(actor=counsellor.user, case=case, scope="monitor", granted=True, method="phone")
    digests = [bytes(15) + b"\1", b"\1" + bytes(15), bytes(14) + b"\1\0", hashlib.md5(b"x").digest()]  # noqa: S324
    items = actions.add_content(
        actor=counsellor.user,
        case=case,
        items=[actions.HashInput(f"d{n}", md5=d.hex()) for n, d in enumerate(digests)],
    )
    ContentIndex().write_snapshot()
    mapped = ContentIndex()
    org = counsellor.user.organisation_id
    for item, d in zip(items, digests, strict=True):
        assert [h.item_id for h in mapped.lookup(org, md5=[Md5(d)])] == [item.pk]
    assert mapped.snapshot is not None
    assert mapped.lookup(org, md5=[Md5(bytes(16))]) == []


def test_another_centres_items_in_the_snapshot_stay_invisible(
    counsellor: Persona, outsider: Persona, org_b: Organisation
) -> None:
    pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    theirs = actions.create_case(actor=outsider.user)
    actions.record_consent(actor=outsider.user, case=theirs, scope="monitor", granted=True, method="phone")
    (item,) = actions.add_content(actor=outsider.user, case=theirs, items=[actions.HashInput("p", pdq=pdq)])
    ContentIndex().write_snapshot()
    mapped = ContentIndex()
    assert mapped.lookup(counsellor.user.organisation_id, pdq=[PdqHash.from_hex(pdq)]) == []
    assert [h.item_id for h in mapped.lookup(org_b.pk, pdq=[PdqHash.from_hex(pdq)])] == [item.pk]
    assert mapped.snapshot is not None
