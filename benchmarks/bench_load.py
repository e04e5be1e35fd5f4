"""How does Haven hold up under 50 concurrent clients, with one server process and with two?

On PostgreSQL, a throw-away database holds one centre whose monitored case has ``--bank`` photo
hashes (bulk-loaded with COPY: random PDQ, MD5 and SHA-256), a counsellor with an API token, a
sharing partner with 1,000 shared records, and a staff login.  ``haven serve --workers K`` runs as a
centre runs it (behind a reverse proxy: ``HAVEN_BEHIND_PROXY``, each request saying which client it
is for) for each K of ``--workers``, and this script, in its own process, drives ``--clients``
concurrent keep-alive clients (asyncio + aiohttp) for ``--seconds`` at each of:

- ``lookup``: ``POST /api/v1/lookup`` with one PDQ hash (half of them a bank hash with 0-20 bits
  flipped, so the answer has a hit; half random);
- ``lookup-picture``: the same with a picture's 8 dihedral hashes (the robust path);
- ``portal-submit``: ``POST /portal/api/submit/``, one photo's hashes with monitoring consent, each
  from a client address of its own (many survivors, not one client hitting the rate limit);
- ``staff-pages``: ``GET /cases/`` signed in (two-factor off for the benchmark's account);
- ``sharing-feed``: ``GET /api/stopncii/v1/FetchHashes`` (pageSize 100), a partner's poll.

Each scenario reports requests/s, p50/p99 latency and errors (any answer other than the expected
status, or no answer).  Memory is the proportional set size (PSS: shared pages divided among the
processes that map them) of the server's whole process tree after the run, so that a snapshot
mapped by two processes counts once.  ``--soak-minutes`` then runs lookups and portal submissions
for that long against the largest K and reports how the tree's PSS and RSS moved.

Client and server share the machine's cores; the client's CPU time is reported beside each run.
Prints tables, says whether each target is met (never asserts a time) and writes
``benchmarks/results/load.json``.

    python benchmarks/bench_load.py [--bank 1000000] [--workers 1,2] [--seconds 60] [--soak-minutes 30]
    python benchmarks/bench_load.py --quick     # 20,000 hashes, 10 s a scenario
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import http.client
import io
import itertools
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from psycopg import sql

HAVEN = Path(sys.executable).with_name("haven")
RESULTS = Path(__file__).with_name("results")
DB = "haven_bench_load"
PASSWORD = "bench-" + "p" * 20


def bench_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _recreate(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# --- seeding (in this process, through Haven's actions; then Django is left alone) --------------------


@dataclass
class World:
    api_token: str
    subscription_key: str
    fetch_key: str
    bank_sample: list[str]
    seed_s: float


def _hex(rng: random.Random, n: int) -> str:
    return rng.randbytes(n).hex()


def seed(args: argparse.Namespace, bank: int) -> World:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from haven.web.accounts.actions import create_organisation, create_token, create_user
    from haven.web.cases import actions
    from haven.web.sharing.actions import approve_case, create_partner

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    org = create_organisation(actor="cli", name="Load Centre", slug="load-centre", country="KR")
    user = create_user(
        actor="cli",
        username="bench",
        organisation=org,
        role="counsellor",
        password=PASSWORD,
        check_password=False,
    )
    token = create_token(actor="cli", user=user, name="bench")
    rng = random.Random(11)
    monitored = actions.create_case(actor=user, contact="(synthetic)")
    actions.record_consent(actor=user, case=monitored, scope="monitor", granted=True, method="in_person")
    shared = actions.create_case(actor=user, contact="(synthetic)")
    for scope in ("share", "monitor"):
        actions.record_consent(actor=user, case=shared, scope=scope, granted=True, method="in_person")
    actions.add_content(
        actor=user,
        case=shared,
        items=[actions.HashInput(label=f"s{i}", pdq=_hex(rng, 32), quality=90) for i in range(1000)],
    )
    approve_case(actor=user, case=shared)
    _partner, keys = create_partner(
        actor="cli", organisation=org, name="Load Platform", kind="platform", rate_limit=1_000_000
    )
    sample = _copy_bank(org.pk, monitored.pk, user.pk, bank, rng)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    connection.close()
    return World(token, keys.subscription_key, keys.fetch_key, sample, time.perf_counter() - started)


def _copy_bank(org: int, case: int, user: int, n: int, rng: random.Random) -> list[str]:
    """COPY ``n`` photo rows into the monitored case; return 1,000 of their PDQ hashes."""
    from django.db import connection

    columns = [
        "organisation_id",
        "case_id",
        "label",
        "kind",
        "pdq",
        "quality",
        "pdq_dihedral",
        "md5",
        "sha256",
        "video_frames",
        "extra",
        "added_by_id",
        "created_at",
    ]
    now = dt.datetime.now(dt.UTC).isoformat()
    sample: list[str] = []
    raw = connection.connection
    assert raw is not None
    copy = sql.SQL("COPY cases_contentitem ({}) FROM STDIN").format(
        sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with raw.cursor() as cursor, cursor.copy(copy) as pipe:
        chunk = io.StringIO()
        for i in range(n):
            pdq = _hex(rng, 32)
            if len(sample) < 1000 and i % max(1, n // 1000) == 0:
                sample.append(pdq)
            row = (
                org,
                case,
                f"b{i}",
                "photo",
                pdq,
                90,
                "[]",
                _hex(rng, 16),
                _hex(rng, 32),
                "[]",
                "[]",
                user,
                now,
            )
            chunk.write("\t".join(map(str, row)) + "\n")
            if i % 50_000 == 49_999:
                pipe.write(chunk.getvalue())
                chunk = io.StringIO()
        pipe.write(chunk.getvalue())
    raw.commit()
    return sample


# --- the server ----------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, workers: int, threads: int, log: Path) -> None:
        self.port = _free_port()
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(
            [
                str(HAVEN),
                "serve",
                "--port",
                str(self.port),
                "--threads",
                str(threads),
                "--workers",
                str(workers),
            ],
            stdout=self._out,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )

    def wait(self, timeout: float = 600) -> float:
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haven serve exited ({self.proc.returncode}):\n{self.log.read_text()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return time.perf_counter() - start
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"haven serve did not answer within {timeout} s:\n{self.log.read_text()}")

    def tree(self) -> list[int]:
        """The server and its serving processes (not a snapshot being written)."""
        pids = [self.proc.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if int(stat[1]) == self.proc.pid and b"--listen-fd" in cmdline:
                    pids.append(int(entry.name))
        return pids

    def memory(self) -> dict[str, float]:
        """PSS and RSS of the tree, MiB."""
        pss = rss = 0
        for pid in self.tree():
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            pss += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
            rss += int(re.search(r"^Rss:\s+(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
        return {
            "pss_mib": round(pss / 1024, 1),
            "rss_mib": round(rss / 1024, 1),
            "processes": len(self.tree()),
        }

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


# --- the clients -----------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    expect: int
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    scenario: str
    seconds: float
    latencies: list[float]
    errors: int
    error_kinds: dict[str, int]
    client_cpu_s: float

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        n = len(lat)

        def pct(p: float) -> float:
            return round(lat[min(n - 1, int(p * n))] * 1000, 1) if n else float("nan")

        return {
            "scenario": self.scenario,
            "requests": n + self.errors,
            "per_s": round((n + self.errors) / self.seconds, 1),
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else float("nan"),
            "errors": self.errors,
            "error_kinds": self.error_kinds,
            "client_cpu_s": round(self.client_cpu_s, 1),
        }


Maker = Callable[[random.Random, int], Request]


REQUESTS = itertools.count()
"""Numbers requests across every run of the script: each portal submission comes from an address
no earlier one used (the portal allows one address 20 submissions in 10 minutes)."""


def _client_headers(n: int) -> dict[str, str]:
    # As the reverse proxy says it: client n's own address, over HTTPS.
    return {
        "X-Forwarded-For": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}",
        "X-Forwarded-Proto": "https",
    }


def scenarios(world: World) -> dict[str, Maker]:
    api = {"Authorization": f"Bearer {world.api_token}", "Content-Type": "application/json"}
    partner = {"Ocp-Apim-Subscription-Key": world.subscription_key, "x-functions-key": world.fetch_key}

    def near(rng: random.Random) -> str:
        if rng.random() < 0.5:
            return _hex(rng, 32)
        value = int(rng.choice(world.bank_sample), 16)
        for bit in rng.sample(range(256), rng.randrange(0, 21)):
            value ^= 1 << bit
        return f"{value:064x}"

    def lookup(rng: random.Random, n: int) -> Request:
        body = json.dumps({"pdq": [near(rng)]}).encode()
        return Request("POST", "/api/v1/lookup", 200, body, {**api, **_client_headers(n % 50)})

    def picture(rng: random.Random, n: int) -> Request:
        first = near(rng)
        body = json.dumps(
            {"pictures": [{"pdq": first, "pdq_dihedral": [first] + [_hex(rng, 32) for _ in range(7)]}]}
        )
        return Request("POST", "/api/v1/lookup", 200, body.encode(), {**api, **_client_headers(n % 50)})

    def submit(rng: random.Random, n: int) -> Request:
        item = {"kind": "photo", "pdq": _hex(rng, 32), "md5": _hex(rng, 16), "sha256": _hex(rng, 32)}
        body = json.dumps({"items": [item], "consents": {"monitor": True}}).encode()
        headers = {"Content-Type": "application/json", **_client_headers(1000 + n)}
        return Request("POST", "/portal/api/submit/", 201, body, headers)

    def page(rng: random.Random, n: int) -> Request:
        return Request("GET", "/cases/", 200, None, _client_headers(n % 50))

    def feed(rng: random.Random, n: int) -> Request:
        return Request(
            "GET", "/api/stopncii/v1/FetchHashes?startTimestamp=0&pageSize=100", 200, None, partner
        )

    return {
        "lookup": lookup,
        "lookup-picture": picture,
        "portal-submit": submit,
        "staff-pages": page,
        "sharing-feed": feed,
    }


async def _login(session: aiohttp.ClientSession, base: str, n: int) -> str:
    """Sign the benchmark's counsellor in; return the Cookie header (managed by hand: the cookies
    are Secure, and the benchmark speaks plain HTTP to the server as the proxy does)."""
    headers = {"Host": "127.0.0.1", **_client_headers(n)}
    async with session.get(f"{base}/accounts/login/", headers=headers) as answer:
        html = await answer.text()
        cookies = {k: v.value for k, v in answer.cookies.items()}
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token is not None, html[:500]
    form = {"username": "bench", "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
    jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
    login_headers = {**headers, "Cookie": jar, "Referer": "https://127.0.0.1/accounts/login/"}
    async with session.post(
        f"{base}/accounts/login/", data=form, headers=login_headers, allow_redirects=False
    ) as answer:
        assert answer.status == 302, (answer.status, await answer.text())
        cookies.update({k: v.value for k, v in answer.cookies.items()})
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


async def _drive(port: int, name: str, make: Maker, clients: int, seconds: float) -> Result:
    base = f"http://127.0.0.1:{port}"
    latencies: list[float] = []
    kinds: dict[str, int] = {}
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as s:
        jars = [await _login(s, base, n) for n in range(clients)] if name == "staff-pages" else []
        deadline = time.perf_counter() + seconds

        async def client(n: int) -> None:
            rng = random.Random(n)
            while time.perf_counter() < deadline:
                request = make(rng, next(REQUESTS))
                headers = {"Host": "127.0.0.1", **request.headers}
                if jars:
                    headers["Cookie"] = jars[n]
                began = time.perf_counter()
                try:
                    async with s.request(
                        request.method, base + request.path, data=request.body, headers=headers
                    ) as r:
                        await r.read()
                        status = r.status
                except (TimeoutError, aiohttp.ClientError) as exc:
                    kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                    continue
                if status == request.expect:
                    latencies.append(time.perf_counter() - began)
                else:
                    kinds[str(status)] = kinds.get(str(status), 0) + 1

        cpu, began = time.process_time(), time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.perf_counter() - began
    return Result(name, elapsed, latencies, sum(kinds.values()), kinds, time.process_time() - cpu)


def drive(port: int, name: str, make: Maker, clients: int, seconds: float) -> Result:
    return asyncio.run(_drive(port, name, make, clients, seconds))


# --- the run ---------------------------------------------------------------------------------------------


def _env(args: argparse.Namespace, data_dir: str) -> None:
    os.environ.update(
        HAVEN_DATABASE_URL=bench_url(args.pg, DB),
        HAVEN_SECRET_KEY=secrets.token_urlsafe(50),
        HAVEN_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        HAVEN_AUDIT_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        HAVEN_DATA_DIR=data_dir,
        HAVEN_ALLOWED_HOSTS="127.0.0.1,localhost",
        HAVEN_BEHIND_PROXY="true",
        HAVEN_REQUIRE_TWO_FACTOR="false",
        HAVEN_LOG_LEVEL="ERROR",
        DJANGO_SETTINGS_MODULE="haven.web.config.settings",
    )


def soak(server: Server, world: World, args: argparse.Namespace) -> dict[str, Any]:
    makers = scenarios(world)

    def mixed(rng: random.Random, n: int) -> Request:
        return makers["portal-submit"](rng, n) if n % 10 == 0 else makers["lookup"](rng, n)

    samples = []
    began = time.perf_counter()
    totals = {"requests": 0, "errors": 0}
    while time.perf_counter() - began < args.soak_minutes * 60:
        result = drive(server.port, "soak", mixed, args.clients, 60)
        totals["requests"] += len(result.latencies) + result.errors
        totals["errors"] += result.errors
        samples.append(
            {"minute": round((time.perf_counter() - began) / 60, 1), **server.memory(), **result.summary()}
        )
        last = samples[-1]
        print(
            f"  soak {last['minute']:5.1f} min: PSS {last['pss_mib']} MiB, RSS {last['rss_mib']} MiB, "
            f"{last['per_s']} req/s, p99 {last['p99_ms']} ms, errors {result.errors}",
            flush=True,
        )
    first, last = samples[0], samples[-1]
    return {
        "minutes": args.soak_minutes,
        "samples": samples,
        **totals,
        "pss_growth_pct": round(100 * (last["pss_mib"] - first["pss_mib"]) / first["pss_mib"], 1),
        "rss_growth_pct": round(100 * (last["rss_mib"] - first["rss_mib"]) / first["rss_mib"], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument("--bank", default="1000000", help="bank sizes, comma-separated")
    parser.add_argument("--workers", default="1,2", help="server processes to compare, comma-separated")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--soak-minutes", type=float, default=0)
    parser.add_argument("--only", default="", help="scenarios to run, comma-separated (default: all)")
    parser.add_argument("--quick", action="store_true", help="20,000 hashes, 10 s a scenario")
    args = parser.parse_args()
    if args.quick:
        args.bank, args.seconds = "20000", 10.0
    banks = [int(b) for b in args.bank.split(",")]
    counts = [int(w) for w in args.workers.split(",")]
    RESULTS.mkdir(exist_ok=True)
    out: dict[str, Any] = {
        "clients": args.clients,
        "seconds": args.seconds,
        "threads": args.threads,
        "runs": [],
    }
    for bank in banks:
        with tempfile.TemporaryDirectory(prefix="haven-load-") as data_dir:
            _recreate(args.pg, DB)
            _env(args, data_dir)
            world = seed(args, bank)
            print(f"bank of {bank:,} hashes seeded in {world.seed_s:.0f} s", flush=True)
            for workers in counts:
                server = Server(workers, args.threads, Path(data_dir) / f"serve-{workers}.log")
                try:
                    started = server.wait()
                    # Warm every process (its first lookup maps the snapshot or loads the bank), in
                    # rounds of 10 s until a round has no answer slower than 5 s: a bank loaded
                    # into the process must not land in the first scenario's latencies.
                    for _round in range(12):
                        warm = drive(server.port, "warm-up", scenarios(world)["lookup"], args.clients, 10)
                        if warm.latencies and max(warm.latencies) < 5:
                            break
                    run: dict[str, Any] = {
                        "bank": bank,
                        "workers": workers,
                        "start_s": round(started, 1),
                        "warm_up": warm.summary(),
                        "memory_after_warm_up": server.memory(),
                        "scenarios": [],
                    }
                    for name, make in scenarios(world).items():
                        if args.only and name not in args.only.split(","):
                            continue
                        result = drive(server.port, name, make, args.clients, args.seconds).summary()
                        run["scenarios"].append(result)
                        print(
                            f"  bank {bank:,}, {workers} process(es), {name}: {result['per_s']} req/s, "
                            f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
                            f"errors {result['errors']}",
                            flush=True,
                        )
                    run["memory"] = server.memory()
                    print(f"  memory with {workers} process(es): {run['memory']}", flush=True)
                    if args.soak_minutes and bank == banks[-1] and workers == counts[-1]:
                        run["soak"] = soak(server, world, args)
                    out["runs"].append(run)
                finally:
                    server.stop()
            _drop(args.pg, DB)
    _report(out)
    (RESULTS / "load.json").write_text(json.dumps(out, indent=2))
    return 0


def _report(out: dict[str, Any]) -> None:
    print("\n| bank | processes | scenario | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for run in out["runs"]:
        for s in run["scenarios"]:
            print(
                f"| {run['bank']:,} | {run['workers']} | {s['scenario']} | {s['per_s']} | {s['p50_ms']} | "
                f"{s['p99_ms']} | {s['errors']} |"
            )
    print("\n| bank | processes | PSS MiB | RSS MiB |")
    print("|---|---|---|---|")
    for run in out["runs"]:
        print(
            f"| {run['bank']:,} | {run['workers']} | {run['memory']['pss_mib']} "
            f"| {run['memory']['rss_mib']} |"
        )
    by = {(r["bank"], r["workers"]): {s["scenario"]: s for s in r["scenarios"]} for r in out["runs"]}
    for bank in sorted({r["bank"] for r in out["runs"]}):
        one, two = by.get((bank, 1)), by.get((bank, 2))
        if one and two and "lookup" in one and "lookup" in two:
            ratio = two["lookup"]["per_s"] / one["lookup"]["per_s"]
            print(f"\nbank {bank:,}: single-hash lookups/s, 2 processes / 1: {ratio:.2f}×")
        for runs in (one, two):
            if runs:
                worst = max(s["p99_ms"] for s in runs.values())
                verdict = "met" if worst < 200 else "NOT met"
                print(f"bank {bank:,}: worst p99 {worst} ms (target under 200 ms at 50 clients): {verdict}")
    for run in out["runs"]:
        if "soak" in run:
            soak = run["soak"]
            verdict = "met" if soak["pss_growth_pct"] < 5 else "NOT met"
            print(
                f"soak {soak['minutes']} min, {run['workers']} processes: PSS {soak['pss_growth_pct']} %, "
                f"RSS {soak['rss_growth_pct']} %, {soak['errors']} errors of {soak['requests']} "
                f"(target PSS growth under 5 %): {verdict}"
            )


if __name__ == "__main__":
    sys.exit(main())
