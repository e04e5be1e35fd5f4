"""Three Haven servers on 127.0.0.1, each with its own database (the central centre's on
PostgreSQL when a server is reachable): regional A shares a photo, the central centre and
regional B import it, B's scan of a local site finds an edited copy and A gets the find, A's
withdrawal empties both imported banks within one fetch, a case moves from A to B and another
offer is revoked; then A is killed in the middle of a fetch and the fetch resumes.

Everything goes through the real commands (``haven serve``, ``haven worker --batch``, ``haven
partner|peer ...``) and HTTP; nothing here shares a process or a database with another server.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.scan.content import cropped, encode
from tests.scan.site import TestSite, serve

HAVEN = Path(sys.executable).with_name("haven")
PG_ADMIN = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/test")
PASSWORD = "three centres share one network 2026"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _postgres() -> str | None:
    """A fresh PostgreSQL database for the central centre, or None where no server answers."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3, autocommit=True) as conn:
            name = f"haven_e2e_{secrets.token_hex(4)}"
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:
        if os.environ.get("HAVEN_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (HAVEN_TEST_REQUIRE_POSTGRES=1) but not reachable: {exc}")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _drop(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, connect_timeout=3, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Centre:
    """One Haven server: its own data directory (and database), port, accounts and tokens."""

    slug: str
    name: str
    home: Path
    database: str = ""
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[str] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_"))}
        env.update(
            HAVEN_DATA_DIR=str(self.home),
            HAVEN_SECRET_KEY=f"secret-of-{self.slug}-" + "x" * 40,
            HAVEN_ENCRYPTION_KEYS=base64.urlsafe_b64encode(self.slug.encode().ljust(32, b"k")[:32]).decode(),
            HAVEN_AUDIT_KEYS=base64.urlsafe_b64encode(self.slug.encode().ljust(32, b"a")[:32]).decode(),
            HAVEN_SECURE_COOKIES="false",
            HAVEN_PEER_ALLOW_PRIVATE="true",
            HAVEN_FETCH_ALLOW_LOOPBACK="true",
            HAVEN_PEER_PAGE_SIZE="200",  # a 450-record feed is three pages: the peer dies on the second
            HAVEN_LOG_LEVEL="ERROR",
        )
        if self.database:
            env["HAVEN_DATABASE_URL"] = self.database
        return env

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(HAVEN), *args], env=self.env, input=stdin, capture_output=True, text=True, timeout=300
        )
        if check and done.returncode != 0:
            raise AssertionError(f"haven {' '.join(args)} on {self.slug}: {done.returncode}\n{done.stderr}")
        return done

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.home / "serve.log"
        with log.open("a") as out:
            self.process = subprocess.Popen(
                [str(HAVEN), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.slug} did not start: {log.read_text()}")
            try:
                urllib.request.urlopen(self.url + "/api/v1/openapi.json", timeout=2).close()  # noqa: S310
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise AssertionError(f"{self.slug} did not answer within 120 s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def setup_accounts(self) -> None:
        self.run("createorg", self.slug, "--name", self.name, "--country", "KR")
        for user, role in (("admin", "admin"), ("counsellor", "counsellor")):
            self.run(
                "createuser",
                f"{self.slug}-{user}",
                "--org",
                self.slug,
                "--role",
                role,
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )
            self.tokens[user] = self.run("token", "create", f"{self.slug}-{user}").stdout.strip()

    def api(self, method: str, path: str, body: Any = None, who: str = "counsellor") -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310  # a local test server
            self.url + "/api/v1" + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.tokens[who]}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def ok(self, method: str, path: str, body: Any = None, who: str = "counsellor") -> Any:
        status, answer = self.api(method, path, body, who)
        assert 200 <= status < 300, f"{method} {path} on {self.slug}: {status} {answer}"
        return answer

    def keys_for(self, partner: str, folder: Path) -> Path:
        """Register a partner centre here and write the keys it is given to a file."""
        keys = self.run("partner", "create", partner, "--org", self.slug, "--kind", "centre", "--json").stdout
        path = folder / f"keys-{self.slug}-for-{partner.replace(' ', '-')}.json"
        path.write_text(keys)
        return path

    def peer_fetch(self, name: str) -> dict[str, Any]:
        done = self.run("peer", "fetch", name, "--json", check=False)
        outcome: dict[str, Any] = json.loads(done.stdout)
        return outcome


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Centre]]:
    base = tmp_path_factory.mktemp("network")
    database = _postgres()
    centres = {
        "central": Centre("central", "Central Centre", base / "central", database=database or ""),
        "a": Centre("regional-a", "Regional Centre A", base / "a"),
        "b": Centre("regional-b", "Regional Centre B", base / "b"),
    }
    try:
        for centre in centres.values():
            centre.start()
            centre.setup_accounts()
        yield centres
    finally:
        for centre in centres.values():
            centre.stop()
        if database:
            _drop(database)


@pytest.fixture(scope="module")
def site() -> Iterator[TestSite]:
    yield from serve()


def _photo(vectors: Path) -> Image.Image:
    with Image.open(vectors / "pdq" / "bridge-mods" / "aaa-orig.jpg") as image:
        return image.convert("RGB")


def _hashed(centre: Centre, path: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(centre.run("hash", "--robust", str(path)).stdout)
    return record


def _new_case(centre: Centre, scopes: list[str], items: list[dict[str, Any]]) -> str:
    number: str = centre.ok("POST", "/cases", {"tfgbv_type": "non_consensual_distribution"})["number"]
    for scope in scopes:
        centre.ok(
            "POST", f"/cases/{number}/consent", {"scope": scope, "granted": True, "method": "in_person"}
        )
    if items:
        centre.ok("POST", f"/cases/{number}/content", items)
    return number


def _imported_hits(centre: Centre, pdq: str) -> list[dict[str, Any]]:
    hits = centre.ok("POST", "/lookup", {"pdq": [pdq]})
    return [h for h in hits if h["imported"]]


def test_three_centres(network: dict[str, Centre], site: TestSite, vectors: Path, tmp_path: Path) -> None:
    central, a, b = network["central"], network["a"], network["b"]
    if os.environ.get("HAVEN_TEST_REQUIRE_POSTGRES") == "1":
        assert central.database.startswith("postgres")
    photo = _photo(vectors)
    original = tmp_path / "photo.jpg"
    original.write_bytes(encode(photo, quality=90))
    record = _hashed(a, original)

    # 1. Regional A registers the survivor's photo and approves it for sharing.
    item = {
        "label": "photo 1",
        "pdq": record["pdq"],
        "quality": record["quality"],
        "md5": record["md5"],
        "sha256": record["sha256"],
        "extra": record["extra"],
    }
    case = _new_case(a, ["share", "monitor", "takedown"], [item])
    assert a.ok("POST", f"/cases/{case}/sharing/approve", {})["approved"] == 1

    # 2. The central centre and regional B import it, each with the keys A issued to it.
    for importer, partner in ((central, "Central Centre"), (b, "Regional Centre B")):
        keys = a.keys_for(partner, tmp_path)
        importer.run("peer", "add", "Regional A", "--org", importer.slug, "--url", a.url, "--keys", str(keys))
        outcome = importer.peer_fetch("Regional A")
        assert outcome["error"] == "", outcome
        assert outcome["items"] == 1, outcome
        (hit,) = _imported_hits(importer, record["pdq"])
        assert hit["imported"]["centre"] == "Regional A"
        assert case not in json.dumps(hit)

    # 3. B's monitoring scan of a local site finds an edited (cropped) copy.
    site.put("/e2e/forum/crop.jpg", cropped(photo), "image/jpeg")
    start = site.put("/e2e/forum/", '<html><body><img src="crop.jpg"></body></html>')
    source = b.ok(
        "POST", "/sources", {"name": "Local forum", "kind": "crawl", "target": start, "depth": 0}, who="admin"
    )
    b.ok("POST", f"/sources/{source['id']}/runs", {}, who="admin")
    b.run("worker", "--batch")
    assert b.ok("GET", "/candidates", who="admin") == []  # not B's own case: nothing for B's reviewers

    # 4. A gets the find on the case, and accepts it into the takedown desk.
    (find,) = a.ok("GET", f"/cases/{case}/finds")
    assert find["centre"] == "Regional Centre B"
    assert find["url"].endswith("/e2e/forum/crop.jpg")
    assert find["how"] == "monitoring"
    assert len(find["evidence_sha256"]) == 64
    accepted = a.ok("POST", f"/finds/{find['id']}", {"accept": True})
    assert accepted["state"] == "accepted"
    assert accepted["sighting_id"]

    # 5. A withdraws share consent; 6. both imported banks drop the item within one fetch.
    a.ok("POST", f"/cases/{case}/consent", {"scope": "share", "granted": False, "method": "phone"})
    for importer in (central, b):
        outcome = importer.peer_fetch("Regional A")
        assert outcome["removed"] == 1, outcome
        assert outcome["items"] == 0, outcome
        assert _imported_hits(importer, record["pdq"]) == []

    # 7. A case moves from A to B; another offer is revoked before B answers.
    moving = _new_case(a, ["transfer", "takedown"], [{**item, "label": "photo of the moving case"}])
    offer = a.ok(
        "POST",
        f"/cases/{moving}/transfers",
        {"to": "Regional Centre B", "parts": ["hashes", "classification", "consent"]},
    )
    staying = _new_case(a, ["transfer"], [])
    revoked = a.ok("POST", f"/cases/{staying}/transfers", {"to": "Regional Centre B"})
    assert b.peer_fetch("Regional A")["offers"] == 2
    a.ok("POST", f"/federation/transfers/{revoked['offer_id']}", {"action": "revoke"})
    taken = b.ok("POST", f"/federation/transfers/{offer['offer_id']}", {"action": "accept"})
    assert taken["state"] == "accepted"
    assert taken["case_number"]
    assert taken["case_number"] != moving
    assert a.ok("GET", f"/cases/{moving}")["status"] == "transferred"
    moved = b.ok("GET", f"/cases/{taken['case_number']}/content")
    assert [i["pdq"] for i in moved] == [record["pdq"]]
    status, refused = b.api("POST", f"/federation/transfers/{revoked['offer_id']}", {"action": "accept"})
    assert status == 422
    assert "no longer offers" in refused["detail"]
    states = {t["offer_id"]: t["state"] for t in b.ok("GET", "/federation/transfers")}
    assert states == {offer["offer_id"]: "accepted", revoked["offer_id"]: "revoked"}
    assert a.ok("GET", f"/cases/{staying}")["status"] != "transferred"

    # Every step is audited on every side, and every chain is intact.
    for centre in (central, a, b):
        assert "intact" in centre.run("audit", "verify").stdout


class _Cutter(BaseHTTPRequestHandler):
    """A reverse proxy in front of A that kills A when the second feed page is asked for."""

    upstream: Centre
    feed_pages = 0

    def _forward(self) -> None:
        if self.path.startswith("/api/sharing/v1/feed"):
            type(self).feed_pages += 1
            if type(self).feed_pages == 2:
                self.upstream.kill()
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(  # noqa: S310  # a local test server
            self.upstream.url + self.path, data=data, headers=headers, method=self.command
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                body, status = response.read(), response.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        except OSError:
            self.close_connection = True  # the peer is gone mid-fetch: the connection just drops
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = _forward  # http.server's names

    def log_message(self, *args: Any) -> None:
        pass


def test_a_peer_killed_mid_fetch_loses_and_repeats_nothing(
    network: dict[str, Centre], tmp_path: Path
) -> None:
    central, a = network["central"], network["a"]
    # 450 photos shared by A: three pages of the native feed.
    items = [{"label": f"p{n}", "pdq": secrets.token_hex(32), "quality": 90} for n in range(450)]
    case = _new_case(a, ["share"], items)
    assert a.ok("POST", f"/cases/{case}/sharing/approve", {})["approved"] == 450
    _Cutter.upstream = a
    _Cutter.feed_pages = 0
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _Cutter)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        keys = a.keys_for("Central via proxy", tmp_path)
        central.run(
            "peer",
            "add",
            "A behind a proxy",
            "--org",
            central.slug,
            "--url",
            f"http://127.0.0.1:{proxy.server_port}",
            "--keys",
            str(keys),
        )
        cut = central.peer_fetch("A behind a proxy")
        assert cut["error"], cut
        assert cut["pages"] == 1, cut
        assert cut["items"] == 200, cut
        listed = {p["name"]: p for p in json.loads(central.run("peer", "list", "--json").stdout)}
        assert listed["A behind a proxy"]["last_error"] == cut["error"]  # what the network view shows
        a.start()  # A comes back (same database)
        resumed = central.peer_fetch("A behind a proxy")
        assert resumed["error"] == "", resumed
        assert resumed["added"] == 250, resumed
        assert resumed["updated"] == 0, resumed
        assert resumed["items"] == 450
        listed = {p["name"]: p for p in json.loads(central.run("peer", "list", "--json").stdout)}
        assert listed["A behind a proxy"]["last_error"] == ""
    finally:
        proxy.shutdown()
        proxy.server_close()
