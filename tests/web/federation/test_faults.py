"""A peer that is down, slow or sends garbage: the fetch fails with a clear error that the network
view shows, the imported bank and the checkpoint stay as they were, and the next good fetch goes on."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from haven.web.audit.models import AuditEvent, EventType
from haven.web.core.health import worker_name
from haven.web.core.models import WorkerHeartbeat
from haven.web.federation import actions, client
from haven.web.federation.models import ImportedItem, Peer
from tests.scan.site import TestSite
from tests.web.conftest import Persona

pytestmark = pytest.mark.django_db(transaction=True)

FEED = "/api/sharing/v1/feed?checkpoint=0&page_size=1000"


def _record(**changes: Any) -> dict[str, Any]:
    return {
        "id": "hvi-abcdefghijklmnopqrstuvwx",
        "case_ref": "hvc-abcdefghijklmnopqrstuvwx",
        "status": "active",
        "updated_at": 1764871234,
        "kind": "photo",
        "signals": [{"type": "pdq", "value": "f" * 64, "quality": 90, "crop": "whole"}],
        **changes,
    }


def _page(*records: dict[str, Any], checkpoint: str = "5") -> bytes:
    return json.dumps({"checkpoint": checkpoint, "has_more": False, "records": list(records)}).encode()


@pytest.fixture
def fake_peer(site: TestSite, peer_of: Callable[..., Peer]) -> Callable[[str, bytes, int], Peer]:
    """A 'peer' at its own path of the test site, answering its feed with the given body."""
    made = {"n": 0}

    def make(name: str, body: bytes, status: int = 200) -> Peer:
        made["n"] += 1
        base = f"/peer-{name}-{made['n']}"
        site.put(base + FEED, body, "application/json", status=status)
        return peer_of(site.url(base))

    return make


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"<html>maintenance</html>", 200, "not JSON"),
        (b'{"checkpoint": "5"}', 200, "invalid feed page (has_more"),
        (_page(_record(signals=[{"type": "pdq", "value": "zz" * 32}])), 200, "64 hexadecimal digits"),
        (_page(_record(status="gone")), 200, "invalid feed page (records.0.status"),
        (_page(_record(id="'; drop table")), 200, "invalid feed page (records.0.id"),
        (_page(_record(), checkpoint="-1"), 200, "invalid feed page (checkpoint"),
        (_page(_record(), checkpoint="0"), 200, "without moving its checkpoint"),
        (json.dumps([1, 2, 3]).encode(), 200, "invalid feed page"),
        (b'{"detail": "a valid key is required"}', 401, "answered 401: a valid key is required"),
        (b"oops", 500, "answered 500"),
    ],
)
def test_a_peer_that_sends_garbage_changes_nothing(
    fake_peer: Callable[..., Peer], body: bytes, status: int, error: str, b_admin: Persona, client_of: Any
) -> None:
    peer = fake_peer("garbage", body, status)
    outcome = actions.fetch_peer(peer.pk)
    assert error in outcome.error
    peer.refresh_from_db()
    assert peer.checkpoint == 0
    assert peer.last_error == outcome.error
    assert peer.last_success_at is None
    assert ImportedItem.objects.count() == 0
    page = client_of(b_admin).get("/federation/")
    assert page.status_code == 200
    assert "Failing" in page.content.decode()
    # Audited once when it starts failing, not at every retry.
    actions.fetch_peer(peer.pk)
    assert AuditEvent.objects.filter(event_type=EventType.PEER_FETCH_FAILED).count() == 1


def test_a_peer_that_sends_too_much_is_cut_off(
    fake_peer: Callable[..., Peer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "MAX_PAGE_BYTES", 1000)
    peer = fake_peer("huge", _page(*[_record(id="hvi-" + "ab"[n % 2] * (n + 1)) for n in range(50)]))
    assert "larger than 1,000 bytes" in actions.fetch_peer(peer.pk).error
    assert ImportedItem.objects.count() == 0


def test_a_peer_that_is_down_shows_its_error_and_a_later_fetch_recovers(
    peer_of: Callable[..., Peer], site: TestSite
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    peer = peer_of(f"http://127.0.0.1:{port}")
    outcome = actions.fetch_peer(peer.pk)
    assert "cannot reach the peer" in outcome.error
    site.put("/back-up" + FEED, _page(_record()), "application/json")
    Peer.objects.filter(pk=peer.pk).update(url=site.url("/back-up"))
    recovered = actions.fetch_peer(peer.pk)
    assert recovered.error == ""
    assert recovered.items == 1
    peer.refresh_from_db()
    assert peer.last_error == ""
    assert peer.checkpoint == 5


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def test_a_peer_that_does_not_answer_times_out(
    peer_of: Callable[..., Peer], silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "TIMEOUT_SECONDS", 1)
    peer = peer_of(f"http://127.0.0.1:{silent_server}")
    outcome = actions.fetch_peer(peer.pk)
    assert outcome.error == "the peer did not answer within 1 s"
    peer.refresh_from_db()
    assert peer.fetching_since is None  # the claim is released for the next try


def test_a_redirect_is_not_followed(fake_peer: Callable[..., Peer], site: TestSite) -> None:
    peer = fake_peer("moved", b"", 302)
    assert "answered 302" in actions.fetch_peer(peer.pk).error


def test_an_unknown_crop_kind_from_a_newer_peer_is_left_out(fake_peer: Callable[..., Peer]) -> None:
    signals = [
        {"type": "pdq", "value": "f" * 64, "quality": 90, "crop": "whole"},
        {"type": "pdq", "value": "e" * 64, "quality": 90, "crop": "centre80"},
        {"type": "pdq", "value": "d" * 64, "quality": 90, "crop": "spiral42"},
    ]
    peer = fake_peer("newer", _page(_record(signals=signals)))
    assert actions.fetch_peer(peer.pk).items == 1
    assert ImportedItem.objects.get().extra == [{"kind": "centre80", "pdq": "e" * 64, "quality": 90}]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (_page(_record(), checkpoint="9999999999999999999"), "invalid feed page (checkpoint"),
        (_page(_record(updated_at=2**64)), "invalid feed page (records.0.updated_at"),
        (
            _page(
                _record(kind="video", signals=[{"type": "vpdq", "frames": [[0, 90, "f" * 64, float("nan")]]}])
            ),
            "invalid feed page (records.0.signals.0.vpdq.frames.0.3",
        ),
    ],
)
def test_numbers_a_database_cannot_hold_are_refused(
    fake_peer: Callable[..., Peer], body: bytes, error: str
) -> None:
    peer = fake_peer("numbers", body)
    assert error in actions.fetch_peer(peer.pk).error
    peer.refresh_from_db()
    assert peer.checkpoint == 0
    assert peer.last_success_at is None


def _raw_server(answer: Callable[[socket.socket], None]) -> Iterator[int]:
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(5)


@pytest.fixture
def broken_status_line() -> Iterator[int]:
    yield from _raw_server(lambda conn: conn.sendall(b"NONSENSE\r\n\r\n"))


@pytest.fixture
def trickling() -> Iterator[int]:
    def answer(conn: socket.socket) -> None:
        import time

        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        for _ in range(40):
            try:
                conn.sendall(b" ")
            except OSError:
                return
            time.sleep(0.1)

    yield from _raw_server(answer)


def test_a_broken_answer_is_an_error_not_a_success(
    peer_of: Callable[..., Peer], broken_status_line: int
) -> None:
    peer = peer_of(f"http://127.0.0.1:{broken_status_line}")
    outcome = actions.fetch_peer(peer.pk)
    assert "answer is broken" in outcome.error
    peer.refresh_from_db()
    assert peer.last_success_at is None


def test_a_peer_that_trickles_its_answer_is_cut_off(
    peer_of: Callable[..., Peer], trickling: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "DEADLINE_SECONDS", 1)
    peer = peer_of(f"http://127.0.0.1:{trickling}")
    assert actions.fetch_peer(peer.pk).error == "the peer took more than 1 s to answer"


def test_an_unexpected_failure_is_recorded_and_releases_the_peer(
    peer_of: Callable[..., Peer], site: TestSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> client.Page:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(client, "fetch_page", explode)
    peer = peer_of(site.url("/anything"))
    outcome = actions.fetch_peer(peer.pk)
    assert outcome.error == "the fetch failed: RuntimeError: something nobody expected"
    peer.refresh_from_db()
    assert peer.fetching_since is None
    assert peer.last_success_at is None


def test_the_sweep_queues_itself_again_whatever_happens(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_tasks_db.models import DBTaskResult

    from haven.web.federation import tasks

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("deliveries broke")

    monkeypatch.setattr(actions, "deliver_finds", broken)
    with pytest.raises(RuntimeError):
        tasks.sweep.call()
    assert DBTaskResult.objects.filter(task_path=tasks.sweep.module_path, status="READY").exists()


@pytest.mark.parametrize(
    ("holder", "heard_from", "taken_over"),
    [
        ("elsewhere:4242", None, False),  # a process on another host we know nothing of
        ("elsewhere:4242", dt.timedelta(seconds=5), False),  # a worker there that is alive
        ("elsewhere:4242", dt.timedelta(hours=1), True),  # a worker there that stopped beating
        ("here:dead", None, True),  # a process of this host that has ended
        ("here:alive", None, False),  # this very process
    ],
)
def test_a_fetch_claimed_by_a_process_that_is_gone_is_taken_over_at_once(
    fake_peer: Callable[..., Peer], holder: str, heard_from: dt.timedelta | None, taken_over: bool
) -> None:
    peer = fake_peer("claimed", _page(_record()))
    host = worker_name().rpartition(":")[0]
    if holder == "here:dead":
        holder = f"{host}:{_ended_pid()}"
    elif holder == "here:alive":
        holder = f"{host}:{os.getpid()}"
    now = timezone.now()
    Peer.objects.filter(pk=peer.pk).update(fetching_since=now - dt.timedelta(seconds=30), fetching_by=holder)
    if heard_from is not None:
        WorkerHeartbeat.objects.create(
            name=holder, seen_at=now - heard_from, started_at=now - dt.timedelta(days=1)
        )
    assert (peer.pk in actions.due_peers()) is taken_over
    outcome = actions.fetch_peer(peer.pk)
    assert outcome.busy is not taken_over
    assert ImportedItem.objects.filter(peer=peer).count() == (1 if taken_over else 0)
    peer.refresh_from_db()
    assert (peer.fetching_by, peer.fetching_since is None) == (("", True) if taken_over else (holder, False))


def _ended_pid() -> int:
    """The process id of a process that has ended (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
