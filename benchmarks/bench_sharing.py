"""How fast do partners fetch a centre's shared hashes, and how soon do they see a withdrawal?

On PostgreSQL, a throw-away database holds one organisation whose feed has ``--records`` shared
photo hashes (bulk-loaded with COPY: distinct random PDQ values, ``--per-second`` of them sharing
each second of ``modified_at``, as a bulk approval makes them).  A real ``haven serve`` process
(waitress) answers over HTTP on 127.0.0.1, and this script, in its own process, measures:

1. a full sync: every record through ``FetchHashes`` (pageSize 1000) and the native ``feed``
   (page_size 1000) with a plain keep-alive HTTP client, records/s; each full sync is a new
   partner's first (Haven records what it sends each partner, so a second sync costs less);
2. the same full ``FetchHashes`` sync through python-threatexchange's own ``StopNCIIAPI``
   (``fetch_hashes_iter``: pageSize 800, a new connection a page, dacite records), side by side
   with the plain client at pageSize 800 and 1000;
3. delta syncs after 100 changes (a case of 100 items approved with ``approve_case``, then its
   share consent withdrawn with ``record_consent``): FetchHashes from the last
   ``nextSetTimestamp`` until ``hasMoreRecords`` is false, and the native feed from its last
   checkpoint;
4. withdrawal to tombstone: from calling ``record_consent(scope="share", granted=False)`` on a
   one-picture case until a FetchHashes from the last checkpoint lists its hash as Withdrawn.

The changes in 3 and 4 go through Haven's real actions (cases, consents, content, approval).
Also measured: an idle poll (FetchHashes from the full sync's checkpoint with nothing changed), and,
in-process through Django's test Client, a cProfile of one 1000-record page of each API and the
PostgreSQL plans of the page query and of the lookup that turns startTimestamp into a position.
After seeding, this process (only the partners' client from then on) freezes its garbage collector,
so that Django's objects in it do not put full collections into the timings; the server is left
as ``haven serve`` runs it.

Prints tables, says whether each target is met (never asserts a time) and writes JSON to
``benchmarks/results/sharing.json`` and the profile beside it (``sharing-profile.txt``).  The
database ``--db`` is created on the server of ``--pg`` and dropped at the end (``--keep-db`` keeps it).

    python benchmarks/bench_sharing.py [--records 1000000 | --quick] [--pg postgres://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import datetime as dt
import gc
import http.client
import io
import json
import os
import platform
import pstats
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HAVEN = Path(sys.executable).with_name("haven")  # the console script of this venv
STOPNCII = "/api/stopncii/v1"
NATIVE = "/api/sharing/v1"
CHANGES = 100  # changes per delta round

FULL_RAW = "plain client, FetchHashes pageSize=1000"
FULL_NATIVE = "plain client, native feed page_size=1000"
FULL_RAW_800 = "plain client, FetchHashes pageSize=800"
FULL_PYTX = "pytx StopNCIIAPI.fetch_hashes_iter (pageSize=800)"
FULL_PASSES = [FULL_RAW, FULL_NATIVE, FULL_RAW_800, FULL_PYTX]
WARM_UP = "warm-up"

TARGETS = {
    "full_fetchhashes_records_per_s": 20_000,
    "delta_ms": 50,
    "withdrawal_visible_s": 1.0,
}


# --- the database and the server ------------------------------------------------------------------


def bench_url(admin_url: str, name: str) -> str:
    """The benchmark database's URL: the admin URL with its database replaced."""
    return urlsplit(admin_url)._replace(path=f"/{name}").geturl()


def create_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``haven serve`` in its own process, with the benchmark's environment."""

    def __init__(self, port: int, threads: int, log: Path) -> None:
        self.port = port
        self.log = log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [str(HAVEN), "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(threads)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )

    def wait(self, timeout: float = 120) -> float:
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haven serve exited ({self.proc.returncode}):\n{self.log.read_text()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", f"{STOPNCII}/FetchHashes")
                status = conn.getresponse().status
                conn.close()
                if status == 401:  # up, and asking for keys
                    return time.perf_counter() - start
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"haven serve did not answer within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


# --- the clients --------------------------------------------------------------------------------


class Raw:
    """A plain HTTP/1.1 client on one keep-alive connection: request, read, ``json.loads``."""

    def __init__(self, port: int, subscription_key: str, fetch_key: str) -> None:
        self.port = port
        self.headers = {"Ocp-Apim-Subscription-Key": subscription_key, "x-functions-key": fetch_key}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)

    def get(self, path: str, params: dict[str, Any]) -> Any:
        url = f"{path}?{urlencode(params)}"
        try:
            self.conn.request("GET", url, headers=self.headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed the idle keep-alive connection (waitress: after 120 s); as any client
            # does, connect again and ask once more.
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
            self.conn.request("GET", url, headers=self.headers)
            response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} {params}: {response.status} {body[:300]!r}")
        return json.loads(body)

    def close(self) -> None:
        self.conn.close()


@dataclass
class Fetch:
    seconds: float = 0.0
    records: int = 0
    pages: int = 0
    checkpoint: int = 0
    distinct: int = 0
    statuses: dict[str, str] = field(default_factory=dict)
    """hash -> last status seen (kept for small fetches only)."""
    mid_token: str = ""
    client_cpu_s: float = 0.0
    """CPU time this (client) process spent during the fetch: requests, parsing, bookkeeping."""

    @property
    def per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 4),
            "records": self.records,
            "pages": self.pages,
            "records_per_s": round(self.per_s, 1),
            "ms": round(self.seconds * 1000, 2),
            "client_cpu_us_per_record": round(self.client_cpu_s / self.records * 1e6, 2)
            if self.records
            else None,
        }


def fetch_stopncii(
    client: Raw, start: int, page_size: int, *, keep: bool = False, mid_page: int = 0
) -> Fetch:
    """FetchHashes from ``start`` until hasMoreRecords is false (``mid_page``: keep that page's token)."""
    out = Fetch()
    seen: set[str] = set()
    token = ""
    begin, cpu = time.perf_counter(), time.process_time()
    while True:
        params: dict[str, Any] = {"startTimestamp": start, "pageSize": page_size}
        if token:
            params["nextPageToken"] = token
        page = client.get(f"{STOPNCII}/FetchHashes", params)
        out.pages += 1
        records = page["hashRecords"]
        out.records += len(records)
        for record in records:
            seen.add(record["hashValue"])
            if keep:
                out.statuses[record["hashValue"]] = record["hashStatus"]
        out.checkpoint = page["nextSetTimestamp"]
        if not page["hasMoreRecords"]:
            break
        token = page["nextPageToken"]
        if out.pages == mid_page:
            out.mid_token = token
    out.seconds = time.perf_counter() - begin
    out.client_cpu_s = time.process_time() - cpu
    out.distinct = len(seen)
    return out


def fetch_native(
    client: Raw, checkpoint: int, page_size: int, *, keep: bool = False, mid_page: int = 0
) -> Fetch:
    """The native feed from ``checkpoint`` until has_more is false."""
    out = Fetch()
    seen: set[str] = set()
    begin, cpu = time.perf_counter(), time.process_time()
    while True:
        page = client.get(f"{NATIVE}/feed", {"checkpoint": checkpoint, "page_size": page_size})
        out.pages += 1
        records = page["records"]
        out.records += len(records)
        for record in records:
            seen.add(record["id"])
            if keep:
                out.statuses[record["signals"][0]["value"]] = record["status"]
        checkpoint = int(page["checkpoint"])
        if out.pages == mid_page:
            out.mid_token = str(checkpoint)
        if not page["has_more"]:
            break
    out.seconds = time.perf_counter() - begin
    out.client_cpu_s = time.process_time() - cpu
    out.checkpoint = checkpoint
    out.distinct = len(seen)
    return out


def fetch_pytx(port: int, subscription_key: str, fetch_key: str, start: int = 10) -> Fetch:
    """The full sync through python-threatexchange's StopNCII client (pageSize 800)."""
    from threatexchange.exchanges.clients.stopncii.api import StopNCIIAPI

    api = StopNCIIAPI(subscription_key, fetch_key, base_url_override=f"http://127.0.0.1:{port}{STOPNCII}")
    out = Fetch()
    seen: set[str] = set()
    begin, cpu = time.perf_counter(), time.process_time()
    for page in api.fetch_hashes_iter(start_timestamp=start):
        out.pages += 1
        out.records += len(page.hashRecords)
        for record in page.hashRecords:
            seen.add(record.hashValue)
        out.checkpoint = page.nextSetTimestamp
    out.seconds = time.perf_counter() - begin
    out.client_cpu_s = time.process_time() - cpu
    out.distinct = len(seen)
    return out


# --- seeding ----------------------------------------------------------------------------------------


def _setup_env(args: argparse.Namespace, data_dir: str) -> None:
    os.environ["HAVEN_DATABASE_URL"] = bench_url(args.pg, args.db)
    os.environ["HAVEN_SECRET_KEY"] = secrets.token_urlsafe(50)
    os.environ["HAVEN_ENCRYPTION_KEYS"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    os.environ["HAVEN_AUDIT_KEYS"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    os.environ["HAVEN_DATA_DIR"] = data_dir
    os.environ["HAVEN_ALLOWED_HOSTS"] = "127.0.0.1,localhost,testserver"
    os.environ["HAVEN_SECURE_COOKIES"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.web.config.settings")


_COPY_COLUMNS = [
    "organisation_id",
    "content_item_id",
    "case_id",
    "case_key",
    "kind",
    "pdq",
    "quality",
    "md5",
    "extra",
    "video_frames",
    "stopncii_type",
    "stopncii_value",
    "status",
    "seq",
    "modified_at",
    "reviewed_by_id",
    "reviewed_at",
]


def _copy_text(value: Any) -> str:
    """A default value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list | dict):
        return json.dumps(value)
    text = str(value)
    assert not any(c in text for c in "\t\n\\"), text
    return text


def copy_shared_items(
    dsn: str, *, org_id: int, case_ids: list[int], user_id: int, n: int, per_second: int, first: dt.datetime
) -> dt.datetime:
    """COPY ``n`` active photo rows, seq 1..n, ``per_second`` of them in each second from ``first``."""
    from haven.web.sharing.models import SharedItem

    fields = {f.column: f for f in SharedItem._meta.concrete_fields if not f.primary_key}
    missing = set(_COPY_COLUMNS) - set(fields)
    assert not missing, f"SharedItem has no columns {missing}"
    # Columns added to the model since this was written take their model default (as a row that
    # Django saves would), so that the bulk rows stay what a real approval leaves.
    defaults = {}
    for column, f in fields.items():
        if column not in _COPY_COLUMNS:
            assert f.has_default() or f.null, f"SharedItem.{f.name}: no default to bulk-load it with"
            defaults[column] = _copy_text(f.get_default() if f.has_default() else None)
    columns = [*_COPY_COLUMNS, *defaults]
    tail = "".join(f"\t{v}" for v in defaults.values())
    if defaults:
        print(f"seed: bulk rows take the model defaults {defaults}", flush=True)
    rng = random.Random(20_251_204)
    step_us = 1_000_000 // per_second
    last = first
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(SharedItem._meta.db_table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with cur.copy(copy_sql) as copy:
            buf = io.StringIO()
            for i in range(n):
                seq = i + 1
                last = first + dt.timedelta(seconds=i // per_second, microseconds=(i % per_second) * step_us)
                stamp = last.isoformat()
                pdq = rng.randbytes(32).hex()
                case = case_ids[i % len(case_ids)]
                buf.write(
                    f"{org_id}\t\\N\t{case}\t{case}\tphoto\t{pdq}\t90\t\t[]\t[]\tImagePDQ\t{pdq}\tactive\t"
                    f"{seq}\t{stamp}\t{user_id}\t{stamp}{tail}\n"
                )
                if seq % 10_000 == 0:
                    copy.write(buf.getvalue())
                    buf = io.StringIO()
            copy.write(buf.getvalue())
        conn.commit()
    tables = [SharedItem._meta.db_table]
    signal_model = _signal_model()
    if signal_model is not None:
        # What _activate records for a photo without crop signals: its one PDQ value.
        fields = {f.name for f in signal_model._meta.concrete_fields}
        assert fields == {"id", "organisation", "item", "value"}, f"SharedSignal changed: {fields}"
        with psycopg.connect(dsn) as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (organisation_id, item_id, value) "
                    "SELECT organisation_id, id, pdq FROM {} WHERE organisation_id = %s ORDER BY seq"
                ).format(
                    sql.Identifier(signal_model._meta.db_table), sql.Identifier(SharedItem._meta.db_table)
                ),
                [org_id],
            )
        tables.append(signal_model._meta.db_table)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in tables:
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
        # Write the loaded pages out now, or the checkpointer writes them during the first timed sync.
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            print("seed: no CHECKPOINT (not a superuser): the first sync may share the disk with it")
    return last


def _signal_model() -> Any:
    """The model of each hash a feed row shares, where this version of Haven has one."""
    from django.apps import apps

    try:
        return apps.get_model("sharing", "SharedSignal")
    except LookupError:
        return None


@dataclass(frozen=True)
class Keys:
    subscription_key: str
    fetch_key: str
    partner_id: int


@dataclass
class World:
    org: Any
    user: Any
    partners: dict[str, Keys]
    """One partner per full sync, so that each full sync is a partner's first (Haven records what it
    sends each partner), and one for the warm-up requests."""
    rounds: list[Any]  # cases of CHANGES items each, approved then withdrawn in the delta rounds
    singles: list[Any]  # one-picture cases for the withdrawal latency
    seed_s: dict[str, float]

    @property
    def main(self) -> Keys:
        """The partner of the FetchHashes full sync, the deltas and the withdrawals."""
        return self.partners[FULL_RAW]


def _pdq(rng: random.Random) -> str:
    return rng.randbytes(32).hex()


def _case_with_items(actions: Any, user: Any, rng: random.Random, items: int) -> Any:
    case = actions.create_case(actor=user, contact="(synthetic)", tfgbv_type="non_consensual_distribution")
    actions.record_consent(actor=user, case=case, scope="share", granted=True, method="in_person")
    actions.add_content(
        actor=user,
        case=case,
        items=[actions.HashInput(label=f"photo {i + 1}", pdq=_pdq(rng), quality=90) for i in range(items)],
    )
    return case


def seed(args: argparse.Namespace) -> World:
    from haven.web.accounts.actions import create_organisation, create_user
    from haven.web.cases import actions
    from haven.web.sharing.actions import create_partner
    from haven.web.sharing.models import FeedHead, SharedItem

    times: dict[str, float] = {}
    rng = random.Random(7)
    start = time.perf_counter()
    org = create_organisation(actor="cli", name="Bench Centre", slug="bench-centre", country="KR")
    user = create_user(
        actor="cli",
        username="bench-admin",
        organisation=org,
        role="admin",
        password=secrets.token_urlsafe(16),
        check_password=False,
    )
    bulk_cases = []
    for _ in range(args.bulk_cases):
        case = actions.create_case(
            actor=user, contact="(synthetic)", tfgbv_type="non_consensual_distribution"
        )
        actions.record_consent(actor=user, case=case, scope="share", granted=True, method="in_person")
        bulk_cases.append(case)
    partners = {}
    for number, name in enumerate([*FULL_PASSES, WARM_UP], start=1):
        partner, keys = create_partner(
            actor="cli",
            organisation=org,
            name=f"Bench Platform {number}",
            kind="platform",
            rate_limit=1_000_000,
        )
        partners[name] = Keys(keys.subscription_key, keys.fetch_key, partner.pk)
    times["organisation, admin, partner"] = time.perf_counter() - start

    start = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    seconds = -(-args.records // args.per_second)
    first = now - dt.timedelta(seconds=seconds + 5)
    last = copy_shared_items(
        bench_url(args.pg, args.db),
        org_id=org.pk,
        case_ids=[c.pk for c in bulk_cases],
        user_id=user.pk,
        n=args.records,
        per_second=args.per_second,
        first=first,
    )
    FeedHead.objects.update_or_create(organisation=org, defaults={"seq": args.records, "last_time": last})
    times[f"COPY {args.records:,} shared items, their signals, VACUUM ANALYZE, CHECKPOINT"] = (
        time.perf_counter() - start
    )
    assert SharedItem.objects.filter(organisation=org).count() == args.records

    start = time.perf_counter()
    rounds = [_case_with_items(actions, user, rng, CHANGES) for _ in range(args.rounds)]
    singles = [_case_with_items(actions, user, rng, 1) for _ in range(args.withdrawals)]
    times["cases for the delta and withdrawal runs (real actions)"] = time.perf_counter() - start
    return World(org, user, partners, rounds, singles, times)


# --- the measurements ---------------------------------------------------------------------------------


def _hashes(case: Any) -> list[str]:
    return list(case.content.values_list("pdq", flat=True))


def deltas(
    world: World, client: Raw, native_client: Raw, checkpoint: int, native_checkpoint: int
) -> dict[str, Any]:
    """Rounds of CHANGES approvals, then CHANGES withdrawals, each fetched from the last checkpoint."""
    from haven.web.cases.actions import record_consent
    from haven.web.sharing.actions import approve_case

    out: dict[str, list[dict[str, Any]]] = {"approve": [], "withdraw": []}
    for case in world.rounds:
        hashes = _hashes(case)
        for what in ("approve", "withdraw"):
            start = time.perf_counter()
            if what == "approve":
                assert approve_case(actor=world.user, case=case) == CHANGES
            else:
                record_consent(actor=world.user, case=case, scope="share", granted=False, method="phone")
            action_s = time.perf_counter() - start
            delta = fetch_stopncii(client, checkpoint, 1000, keep=True)
            expected = "Active" if what == "approve" else "Withdrawn"
            assert all(delta.statuses.get(h) == expected for h in hashes), (what, delta.summary())
            native = fetch_native(native_client, native_checkpoint, 1000, keep=True)
            assert native.records == CHANGES, native.summary()
            assert all(native.statuses.get(h) == expected.lower() for h in hashes)
            out[what].append(
                {
                    "action_ms": round(action_s * 1000, 2),
                    "from_timestamp": checkpoint,
                    "stopncii": delta.summary(),
                    "native": native.summary(),
                }
            )
            checkpoint, native_checkpoint = delta.checkpoint, native.checkpoint
    return {"rounds": out, "checkpoint": checkpoint, "native_checkpoint": native_checkpoint}


def withdrawals(world: World, client: Raw, checkpoint: int) -> dict[str, Any]:
    """From record_consent(share withdrawn) until FetchHashes from the last checkpoint says Withdrawn."""
    from haven.web.cases.actions import record_consent

    samples = []
    for case in world.singles:
        (pdq,) = _hashes(case)
        start = time.perf_counter()
        record_consent(actor=world.user, case=case, scope="share", granted=False, method="phone")
        action_s = time.perf_counter() - start
        polls = 0
        while True:
            polls += 1
            delta = fetch_stopncii(client, checkpoint, 1000, keep=True)
            if delta.statuses.get(pdq) == "Withdrawn":
                break
            if time.perf_counter() - start > 30:
                raise RuntimeError("the withdrawal never showed as Withdrawn")
        total_s = time.perf_counter() - start
        checkpoint = delta.checkpoint
        samples.append(
            {
                "total_ms": round(total_s * 1000, 2),
                "action_ms": round(action_s * 1000, 2),
                "fetch_ms": round(delta.seconds * 1000, 2),
                "polls": polls,
                "records": delta.records,
            }
        )
    totals = [s["total_ms"] for s in samples]
    return {
        "samples": samples,
        "median_ms": statistics.median(totals),
        "max_ms": max(totals),
        "checkpoint": checkpoint,
    }


def profile_pages(world: World, stopncii_token: str, native_checkpoint: int, out: Path) -> dict[str, Any]:
    """cProfile one 1000-record page of each API in-process (Django's test Client, whole stack)."""
    from django.test import Client

    client = Client(
        headers={
            "Ocp-Apim-Subscription-Key": world.main.subscription_key,
            "x-functions-key": world.main.fetch_key,
        }
    )
    urls = {
        "FetchHashes": f"{STOPNCII}/FetchHashes?"
        + urlencode({"startTimestamp": 10, "pageSize": 1000, "nextPageToken": stopncii_token}),
        "feed": f"{NATIVE}/feed?" + urlencode({"checkpoint": native_checkpoint, "page_size": 1000}),
    }
    text = io.StringIO()
    timings: dict[str, float] = {}
    for name, url in urls.items():
        for _ in range(3):  # warm
            assert client.get(url).status_code == 200
        samples = []
        for _ in range(10):
            start = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        timings[f"{name}_in_process_p50_ms"] = round(statistics.median(samples), 2)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(5):
            client.get(url)
        profiler.disable()
        text.write(f"=== {name}: 5 pages of 1000 records, in-process ===\n")
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    out.write_text(text.getvalue())
    return timings


def explain(world: World) -> dict[str, str]:
    """EXPLAIN ANALYZE of the page query (in the middle of the feed, and at its end where the deltas'
    tombstones are), and of the lookup of a FetchHashes run's first page that turns startTimestamp
    into a feed position, for three starts (filters and order as feed.py writes them)."""
    from django.db import connection

    from haven.web.sharing.feed import visible_rows
    from haven.web.sharing.models import Partner, SharedItem

    partner = Partner.objects.get(pk=world.main.partner_id)
    rows = SharedItem.objects.filter(organisation=world.org)
    head = rows.order_by("-seq").values_list("seq", flat=True).first()
    assert head is not None

    def page(after: int) -> Any:
        return (
            visible_rows(partner)
            .filter(seq__gt=after)
            .exclude(stopncii_value="")
            .order_by("seq")
            .values_list("pk", "seq", "case_key", "stopncii_type", "stopncii_value", "status", "modified_at")[
                :1001
            ]
        )

    starts = {
        "start 10 (full sync)": dt.datetime.fromtimestamp(10, dt.UTC),
        "start at the middle of the feed": rows.get(seq=head // 2).modified_at.replace(microsecond=0),
        "start at the last second": rows.get(seq=head).modified_at.replace(microsecond=0),
    }

    def position(start: dt.datetime) -> Any:
        """feed.stopncii_page's lookup: the last position before ``start``."""
        return (
            rows.filter(modified_at__lt=start)
            .order_by("-modified_at", "-seq")
            .values_list("seq", flat=True)[:1]
        )

    plans = {}
    with connection.cursor() as cur:
        for name, after in (
            ("page query (1000 records from the middle)", head // 2),
            ("page query (the last 1000 positions: the deltas, tombstones among them)", head - 1000),
        ):
            raw, params = page(after).query.sql_with_params()
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {raw}", params)
            plans[name] = "\n".join(row[0][:300] for row in cur.fetchall())
        for name, start in starts.items():
            raw, params = position(start).query.sql_with_params()
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {raw}", params)
            plans[f"position of startTimestamp, {name}"] = "\n".join(row[0][:300] for row in cur.fetchall())
    return plans


# --- the report --------------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _table(header: list[str], rows: list[list[Any]], right_from: int = 1) -> None:
    cells = [[str(c) for c in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if i < right_from else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
            + " |"
        )

    print(line(cells[0]))
    print(
        "|" + "|".join("-" * (w + 1) + (":" if i >= right_from else "-") for i, w in enumerate(widths)) + "|"
    )
    for row in cells[1:]:
        print(line(row))


def measure(args: argparse.Namespace, world: World, server: Server) -> dict[str, Any]:
    from haven.web.sharing.actions import approve_case

    n = args.records
    load_before = [round(x, 2) for x in os.getloadavg()]
    clients = {
        name: Raw(server.port, keys.subscription_key, keys.fetch_key)
        for name, keys in world.partners.items()
        if name != FULL_PYTX
    }
    warm = clients.pop(WARM_UP)  # its own partner: the measured ones start with nothing sent
    warm.get(f"{STOPNCII}/FetchHashes", {"startTimestamp": 10, "pageSize": 1})
    warm.get(f"{NATIVE}/feed", {"checkpoint": 0, "page_size": 1})
    warm.close()
    client, native_client = clients[FULL_RAW], clients[FULL_NATIVE]

    mid = max(1, n // 2000)
    full: dict[str, Fetch] = {}
    full[FULL_RAW] = fetch_stopncii(client, 10, 1000, mid_page=mid)
    print(f"{FULL_RAW}: {full[FULL_RAW].summary()}", flush=True)
    full[FULL_NATIVE] = fetch_native(native_client, 0, 1000, mid_page=mid)
    print(f"{FULL_NATIVE}: {full[FULL_NATIVE].summary()}", flush=True)
    full[FULL_RAW_800] = fetch_stopncii(clients[FULL_RAW_800], 10, 800)
    clients[FULL_RAW_800].close()
    print(f"{FULL_RAW_800}: {full[FULL_RAW_800].summary()}", flush=True)
    if not args.no_pytx:
        keys = world.partners[FULL_PYTX]
        full[FULL_PYTX] = fetch_pytx(server.port, keys.subscription_key, keys.fetch_key)
        print(f"{FULL_PYTX}: {full[FULL_PYTX].summary()}", flush=True)
    for name, f in full.items():
        assert f.records == n, (name, f.records)
        assert f.distinct == n, (name, f.distinct)
    checkpoint = full[FULL_RAW].checkpoint
    native_checkpoint = full[FULL_NATIVE].checkpoint
    assert native_checkpoint == n

    # Nothing changed since the full sync: FetchHashes from its checkpoint sends that second again.
    idle = fetch_stopncii(client, checkpoint, 1000)
    native_idle = fetch_native(native_client, native_checkpoint, 1000)
    assert native_idle.records == 0
    print(f"idle poll from the full sync's checkpoint: {idle.summary()}", flush=True)

    # The one-picture cases are approved and fetched first, so that the partner holds them (their
    # withdrawal must leave it a tombstone) and the later deltas start from a checkpoint in a second
    # of real actions, not in one of the bulk-loaded seconds.
    for case in world.singles:
        approve_case(actor=world.user, case=case)
    catch_up = fetch_stopncii(client, checkpoint, 1000)
    native_catch_up = fetch_native(native_client, native_checkpoint, 1000)
    assert native_catch_up.records == len(world.singles)
    checkpoint, native_checkpoint = catch_up.checkpoint, native_catch_up.checkpoint

    delta = deltas(world, client, native_client, checkpoint, native_checkpoint)
    withdrawal = withdrawals(world, client, delta["checkpoint"])
    client.close()
    native_client.close()

    profile: dict[str, Any] = {}
    if not args.no_profile and full[FULL_RAW].mid_token:
        profile_path = args.json.with_name(args.json.stem + "-profile.txt")
        args.json.parent.mkdir(parents=True, exist_ok=True)
        try:
            mid_native = int(full[FULL_NATIVE].mid_token)
            profile = profile_pages(world, full[FULL_RAW].mid_token, mid_native, profile_path)
            profile["profile_file"] = str(profile_path)
            profile["plans"] = explain(world)
        except Exception as exc:  # the figures above stand without it
            print(f"profile failed: {exc!r}", file=sys.stderr)
            profile = {"error": repr(exc)}
    return {
        "full": full,
        "idle": {"stopncii": idle.summary(), "native": native_idle.summary()},
        "catch_up": {"stopncii": catch_up.summary(), "native": native_catch_up.summary()},
        "deltas": delta["rounds"],
        "withdrawal": withdrawal,
        "profile": profile,
        "load_before": load_before,
    }


def _source() -> dict[str, Any]:
    """Which Haven was measured: its path, and the commit of this checkout (read-only git)."""
    import haven

    where = Path(haven.__file__).resolve().parent
    out: dict[str, Any] = {"haven": str(where)}
    if not where.is_relative_to(ROOT):
        out["note"] = (
            "Haven imported from outside this checkout (PYTHONPATH): the commit below is the checkout's"
        )
    try:
        out["commit"] = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if where.is_relative_to(ROOT):
            out["src_modified"] = bool(dirty.strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    return out


def report(args: argparse.Namespace, world: World, m: dict[str, Any]) -> dict[str, Any]:
    n = args.records
    full: dict[str, Fetch] = m["full"]
    raw, raw800, pytx = full[FULL_RAW], full[FULL_RAW_800], full.get(FULL_PYTX)
    print()
    print(
        f"Full sync of {n:,} records ({args.per_second:,} sharing each second), haven serve --threads "
        f"{args.threads}, PostgreSQL, one request at a time, each sync a new partner's first:"
    )
    _table(
        ["client", "pages", "seconds", "records/s", "client CPU us/record"],
        [
            [name, f.pages, f"{f.seconds:.1f}", f"{f.per_s:,.0f}", f.summary()["client_cpu_us_per_record"]]
            for name, f in full.items()
        ],
    )
    ratios = {}
    if pytx:
        ratios = {
            "plain800_over_pytx": round(raw800.per_s / pytx.per_s, 2),
            "plain1000_over_pytx": round(raw.per_s / pytx.per_s, 2),
        }
        print(
            f"plain client / pytx: {ratios['plain800_over_pytx']}x at the same pageSize 800, "
            f"{ratios['plain1000_over_pytx']}x with pageSize 1000"
        )
    print()
    idle = m["idle"]["stopncii"]
    print(
        f"Idle poll (no change since the full sync) from its nextSetTimestamp: {idle['records']:,} records "
        f"sent again in {idle['ms']:.0f} ms; native feed from its checkpoint: "
        f"{m['idle']['native']['records']} records in {m['idle']['native']['ms']:.1f} ms"
    )
    rounds = m["deltas"]
    print(
        f"Delta syncs after {CHANGES} changes, {len(world.rounds)} rounds each, from the last checkpoint "
        "until the end (FetchHashes also repeats the records of the checkpoint's second):"
    )
    rows = []
    ms_by: dict[str, list[float]] = {}
    for what in ("approve", "withdraw"):
        for api in ("stopncii", "native"):
            ms = [r[api]["ms"] for r in rounds[what]]
            counts = [r[api]["records"] for r in rounds[what]]
            ms_by[f"{api} {what}"] = ms
            span = f"{min(counts)}-{max(counts)}" if min(counts) != max(counts) else str(counts[0])
            label = f"{'FetchHashes' if api == 'stopncii' else 'native feed'} after {CHANGES} {what}s"
            rows.append([label, f"{statistics.median(ms):.1f}", f"{max(ms):.1f}", span])
        action = statistics.median(r["action_ms"] for r in rounds[what])
        rows.append([f"(the {what} action itself)", f"{action:.1f}", "", ""])
    _table(["delta", "median ms", "max ms", "records"], rows)
    print()
    w = m["withdrawal"]
    samples = w["samples"]
    action_p50 = statistics.median(s["action_ms"] for s in samples)
    fetch_p50 = statistics.median(s["fetch_ms"] for s in samples)
    print(
        f"Withdrawal to tombstone visible in FetchHashes ({len(samples)} repeats): median "
        f"{w['median_ms']:.1f} ms, max {w['max_ms']:.1f} ms (record_consent median {action_p50:.1f} ms, "
        f"the fetch {fetch_p50:.1f} ms; first fetch after the call showed it every time: "
        f"{all(s['polls'] == 1 for s in samples)})"
    )
    profile = m["profile"]
    if "profile_file" in profile:
        print(
            f"In-process (Django test Client, no HTTP) 1000-record page, p50: FetchHashes "
            f"{profile['FetchHashes_in_process_p50_ms']} ms, feed {profile['feed_in_process_p50_ms']} ms; "
            f"profile in {profile['profile_file']}"
        )
        for name, plan in profile.get("plans", {}).items():
            took = [line.split(":", 1)[1].strip() for line in plan.splitlines() if "Execution Time" in line]
            print(f"  {name}: {took[0] if took else '?'}")

    delta_all = ms_by["stopncii approve"] + ms_by["stopncii withdraw"]
    over = sum(1 for v in delta_all if v >= TARGETS["delta_ms"])
    targets = {
        "full FetchHashes >= 20,000 records/s": {
            "value": round(raw.per_s),
            "met": raw.per_s >= TARGETS["full_fetchhashes_records_per_s"],
        },
        "delta FetchHashes after 100 changes < 50 ms (median of the rounds)": {
            "value": round(statistics.median(delta_all), 2),
            "max": max(delta_all),
            "rounds_over": f"{over} of {len(delta_all)}",
            "met": statistics.median(delta_all) < TARGETS["delta_ms"],
        },
        "withdrawal to tombstone visible < 1 s (max of the repeats)": {
            "value": w["max_ms"],
            "median": round(w["median_ms"], 2),
            "met": w["max_ms"] < TARGETS["withdrawal_visible_s"] * 1000,
        },
    }
    print()
    for name, t in targets.items():
        extra = ", ".join(f"{k} {v}" for k, v in t.items() if k not in ("value", "met"))
        print(f"target {name}: {t['value']}{f' ({extra})' if extra else ''} -> {_verdict(t['met'])}")
    return {
        "records": n,
        "per_second": args.per_second,
        "threads": args.threads,
        "source": _source(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": m["load_before"],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "seed_s": {k: round(v, 2) for k, v in world.seed_s.items()},
        "full": {name: f.summary() for name, f in full.items()},
        "ratios": ratios,
        "idle": m["idle"],
        "catch_up": m["catch_up"],
        "deltas": rounds,
        "withdrawal": w,
        "profile": profile,
        "targets": targets,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000, help="shared records in the feed")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 20,000 records, 3 rounds")
    parser.add_argument("--per-second", type=int, default=5000, help="records sharing one modified second")
    parser.add_argument("--bulk-cases", type=int, default=5, help="cases the bulk records belong to")
    parser.add_argument(
        "--rounds", type=int, default=10, help="delta rounds (100 approvals, 100 withdrawals)"
    )
    parser.add_argument("--withdrawals", type=int, default=20, help="withdrawal-to-tombstone repeats")
    parser.add_argument("--threads", type=int, default=2, help="haven serve --threads (waitress)")
    parser.add_argument("--no-pytx", action="store_true", help="skip the python-threatexchange pass")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process profile and plans")
    parser.add_argument(
        "--pg",
        default="postgres://postgres@127.0.0.1:5432/test",
        help="a database on the PostgreSQL server to connect to while creating and dropping --db",
    )
    parser.add_argument("--db", default="haven_bench_sharing", help="the database to create and drop")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--json", type=Path, default=RESULTS / "sharing.json")
    args = parser.parse_args()
    if args.quick:
        args.records = min(args.records, 20_000)
        args.rounds = min(args.rounds, 3)
        args.withdrawals = min(args.withdrawals, 5)

    create_database(args.pg, args.db)
    try:
        with tempfile.TemporaryDirectory(prefix="haven-bench-sharing-") as data_dir:
            _setup_env(args, data_dir)
            from haven.web.core.commands import migrate, setup

            setup()
            # Import the whole URLconf (every API) now: the in-process profile at the end then runs
            # the same code as the server, which imported it at its start.
            from django.urls import get_resolver

            get_resolver().url_patterns  # noqa: B018
            migrate(sys.stdout)
            world = seed(args)
            for name, seconds in world.seed_s.items():
                print(f"seed: {name}: {seconds:.1f} s", flush=True)
            # This process is only the partners' client from here on; a partner's client does not carry
            # Django's ~150,000 objects, whose full garbage collections would land in the timings.
            gc.collect()
            gc.freeze()
            server = Server(_free_port(), args.threads, Path(data_dir) / "serve.log")
            try:
                print(f"haven serve answered after {server.wait():.1f} s (port {server.port})", flush=True)
                measured = measure(args, world, server)
            finally:
                server.stop()
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            drop_database(args.pg, args.db)
    result = report(args, world, measured)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
