"""How fast does a centre import another centre's shared bank, and how soon does a withdrawal leave it?

Centre A: a PostgreSQL database with ``--records`` shared photo hashes (bulk-loaded as
``bench_sharing.py`` loads them), served by a real ``haven serve`` process on 127.0.0.1.
Centre B: its own database (SQLite in a temporary data directory, or PostgreSQL with ``--b-pg``)
in a separate process that adds A as a peer and is driven over a pipe, so that each timing is the
operation itself, not a process start.  Measured, in one run on the same feed:

1. B's first import of A's whole feed with ``fetch_peer`` (HTTP pages of 200, every record checked,
   written to B's imported bank with its checkpoint, the change log for every server process):
   records/s; beside it the clients a platform uses on the same server: python-threatexchange's
   ``StopNCIIAPI.fetch_hashes_iter`` (pageSize 800) and the ``haven_threatexchange`` extension's
   ``HavenSharingClient.iter_feed`` over the native feed, which only parse into memory;
2. B's imported index: the first lookup (which loads the bank into memory) and then the median and
   p99 of ``POST /api/v1/lookup``-equivalent lookups (``matching.lookup``) of random and of imported
   hashes;
3. withdrawal to drop: A approves a one-photo case, B fetches and finds it; then A withdraws share
   consent (the real action) and the time until B's next fetch has removed it and B's lookup no
   longer finds it (one on-demand fetch; the worker's interval, 5 minutes by default, adds to this);
4. an idle fetch (nothing changed): what the worker costs every few minutes per peer.

Prints tables (never asserts a time) and writes ``benchmarks/results/federation.json``.

    python benchmarks/bench_federation.py [--records 100000 | --quick] [--pg postgres://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gc
import json
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_sharing as shared  # the seeding and the server of the sharing benchmark

RESULTS = shared.RESULTS


# --- centre B, in its own process ------------------------------------------------------------------


def b_worker() -> int:
    """Centre B: set up from the environment, then answer one JSON command a line on stdin."""
    from haven.web.core.commands import migrate, setup

    setup()
    migrate(open(os.devnull, "w"))  # noqa: SIM115  # the process's lifetime
    from haven.signals import PdqHash
    from haven.web.accounts.actions import create_organisation
    from haven.web.federation import actions, matching
    from haven.web.federation.models import ImportedItem

    org = create_organisation(actor="cli", name="Centre B", slug="centre-b", country="KR")
    peer = None
    gc.collect()
    gc.freeze()
    for line in sys.stdin:
        command = json.loads(line)
        what = command["do"]
        answer: dict[str, Any] = {}
        if what == "add":
            peer = actions.add_peer(
                actor="cli", organisation=org, name="Centre A", url=command["url"], keys=command["keys"]
            )
        elif what == "fetch":
            assert peer is not None
            start = time.perf_counter()
            outcome = actions.fetch_peer(peer.pk, actor="cli")
            answer = {"seconds": time.perf_counter() - start, **outcome.as_dict()}
        elif what == "lookup":
            hashes = [PdqHash.from_hex(h) for h in command["pdq"]]
            times, found = [], []
            for h in hashes:
                start = time.perf_counter()
                hits = matching.lookup(org.pk, pdq=[h], radius=31)
                times.append(time.perf_counter() - start)
                found.append(len(hits))
            answer = {"times": times, "found": found}
        elif what == "sample":
            answer = {
                "pdq": list(ImportedItem.objects.order_by("?").values_list("pdq", flat=True)[: command["n"]])
            }
        elif what == "quit":
            break
        print(json.dumps(answer), flush=True)
    return 0


class CentreB:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--b-worker"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"centre B stopped (exit {self.proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.ask_quietly()
            self.proc.wait(30)

    def ask_quietly(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write('{"do": "quit"}\n')
        self.proc.stdin.close()


# --- centre A --------------------------------------------------------------------------------------


def seed_a(args: argparse.Namespace) -> dict[str, Any]:
    from haven.web.accounts.actions import create_organisation, create_user
    from haven.web.cases import actions
    from haven.web.sharing.actions import create_partner
    from haven.web.sharing.models import FeedHead

    org = create_organisation(actor="cli", name="Centre A", slug="centre-a", country="KR")
    user = create_user(
        actor="cli",
        username="a-admin",
        organisation=org,
        role="admin",
        password=secrets.token_urlsafe(16),
        check_password=False,
    )
    case = actions.create_case(actor=user, contact="(synthetic)", tfgbv_type="non_consensual_distribution")
    actions.record_consent(actor=user, case=case, scope="share", granted=True, method="in_person")
    start = time.perf_counter()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    first = now - dt.timedelta(seconds=-(-args.records // 5000) + 5)
    last = shared.copy_shared_items(
        shared.bench_url(args.pg, args.db),
        org_id=org.pk,
        case_ids=[case.pk],
        user_id=user.pk,
        n=args.records,
        per_second=5000,
        first=first,
    )
    FeedHead.objects.update_or_create(organisation=org, defaults={"seq": args.records, "last_time": last})
    seeded = time.perf_counter() - start
    keys = {}
    for name, kind in (
        ("Centre B", "centre"),
        ("pytx platform", "platform"),
        ("extension platform", "platform"),
    ):
        _partner, made = create_partner(
            actor="cli", organisation=org, name=name, kind=kind, rate_limit=1_000_000
        )
        keys[name] = made.as_dict()
    return {"org": org, "user": user, "keys": keys, "seed_s": seeded}


def one_photo_case(user: Any, rng: random.Random) -> tuple[Any, str]:
    from haven.web.cases import actions
    from haven.web.sharing.actions import approve_case

    case = actions.create_case(actor=user, contact="(synthetic)", tfgbv_type="non_consensual_distribution")
    actions.record_consent(actor=user, case=case, scope="share", granted=True, method="in_person")
    pdq = rng.randbytes(32).hex()
    actions.add_content(actor=user, case=case, items=[actions.HashInput(label="photo", pdq=pdq, quality=90)])
    approve_case(actor=user, case=case)
    return case, pdq


# --- the peers' clients ----------------------------------------------------------------------------


def pytx_fetch(port: int, keys: dict[str, str]) -> dict[str, Any]:
    fetched = shared.fetch_pytx(port, keys["subscription_key"], keys["fetch_key"])
    return {"records": fetched.records, "seconds": fetched.seconds, "client_cpu_s": fetched.client_cpu_s}


def extension_fetch(port: int, keys: dict[str, str]) -> dict[str, Any]:
    from haven_threatexchange.client import HavenSharingClient

    client = HavenSharingClient(
        f"http://127.0.0.1:{port}/api/sharing/v1",
        subscription_key=keys["subscription_key"],
        fetch_key=keys["fetch_key"],
    )
    records, begin, cpu = 0, time.perf_counter(), time.process_time()
    for page in client.iter_feed("0"):
        records += len(page.records)
    out = {
        "records": records,
        "seconds": time.perf_counter() - begin,
        "client_cpu_s": time.process_time() - cpu,
    }
    client.close()
    return out


# --- the run ---------------------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(args: argparse.Namespace, a: dict[str, Any], port: int, b: CentreB) -> dict[str, Any]:
    from haven.web.cases import actions

    out: dict[str, Any] = {}
    b.ask(do="add", url=f"http://127.0.0.1:{port}", keys=a["keys"]["Centre B"])
    first = b.ask(do="fetch")
    assert first["error"] == "", first
    assert first["items"] == args.records, first
    out["import"] = {**first, "records_per_s": args.records / first["seconds"]}
    out["pytx"] = pytx_fetch(port, a["keys"]["pytx platform"])
    out["extension"] = extension_fetch(port, a["keys"]["extension platform"])
    for name in ("pytx", "extension"):
        out[name]["records_per_s"] = out[name]["records"] / out[name]["seconds"]

    rng = random.Random(11)
    imported = b.ask(do="sample", n=200)["pdq"]
    randoms = [rng.randbytes(32).hex() for _ in range(200)]
    load = b.ask(do="lookup", pdq=[imported[0]])
    hits = b.ask(do="lookup", pdq=imported)
    misses = b.ask(do="lookup", pdq=randoms)
    assert all(n >= 1 for n in hits["found"]), "an imported hash was not found"
    out["lookup"] = {
        "first_lookup_loads_bank_ms": _ms(load["times"][0]),
        "imported_p50_ms": _ms(statistics.median(hits["times"])),
        "imported_p99_ms": _ms(_pct(hits["times"], 0.99)),
        "random_p50_ms": _ms(statistics.median(misses["times"])),
        "random_p99_ms": _ms(_pct(misses["times"], 0.99)),
        "random_hits": sum(misses["found"]),
    }

    idle = [b.ask(do="fetch")["seconds"] for _ in range(5)]
    out["idle_fetch_ms"] = {"median": _ms(statistics.median(idle)), "max": _ms(max(idle))}

    drops, deltas = [], []
    for _ in range(args.withdrawals):
        case, pdq = one_photo_case(a["user"], rng)
        added = b.ask(do="fetch")
        deltas.append(added["seconds"])
        assert added["added"] == 1, added
        assert b.ask(do="lookup", pdq=[pdq])["found"] == [1]
        start = time.perf_counter()
        actions.record_consent(actor=a["user"], case=case, scope="share", granted=False, method="phone")
        removed = b.ask(do="fetch")
        gone = b.ask(do="lookup", pdq=[pdq])
        drops.append(time.perf_counter() - start)
        assert removed["removed"] == 1, removed
        assert gone["found"] == [0], gone
    out["delta_fetch_ms"] = {"median": _ms(statistics.median(deltas)), "max": _ms(max(deltas))}
    out["withdrawal_to_drop_ms"] = {
        "median": _ms(statistics.median(drops)),
        "max": _ms(max(drops)),
        "n": len(drops),
    }
    return out


def report(args: argparse.Namespace, m: dict[str, Any], a_seed_s: float) -> dict[str, Any]:
    print()
    print(f"Feed of {args.records:,} shared photo hashes at centre A (PostgreSQL, haven serve)")
    print(f"Centre B on {m['b_db']}")
    rows = [
        ("Haven peer import (fetch_peer: check, store, change log)", m["import"]),
        ("python-threatexchange StopNCIIAPI, pageSize 800 (parse only)", m["pytx"]),
        ("haven_threatexchange HavenSharingClient.iter_feed (parse only)", m["extension"]),
    ]
    print(f"{'client':<66} {'records/s':>11} {'seconds':>9}")
    for name, r in rows:
        print(f"{name:<66} {r['records_per_s']:>11,.0f} {r['seconds']:>9.1f}")
    ratio_pytx = m["import"]["records_per_s"] / m["pytx"]["records_per_s"]
    ratio_ext = m["import"]["records_per_s"] / m["extension"]["records_per_s"]
    print(f"ratio import / pytx: {ratio_pytx:.2f}; import / extension: {ratio_ext:.2f}")
    lookup = m["lookup"]
    print(f"B's lookups against {args.records:,} imported hashes:")
    print(f"  first lookup (loads the bank): {lookup['first_lookup_loads_bank_ms']} ms")
    print(f"  imported hashes: p50 {lookup['imported_p50_ms']} ms, p99 {lookup['imported_p99_ms']} ms")
    print(
        f"  random hashes: p50 {lookup['random_p50_ms']} ms, p99 {lookup['random_p99_ms']} ms "
        f"({lookup['random_hits']} false hits)"
    )
    print(f"idle fetch: median {m['idle_fetch_ms']['median']} ms")
    print(f"delta fetch (1 new record): median {m['delta_fetch_ms']['median']} ms")
    w = m["withdrawal_to_drop_ms"]
    print(
        "withdrawal at A to gone from B's lookups (one on-demand fetch): "
        f"median {w['median']} ms, max {w['max']} ms ({w['n']} runs)"
    )
    return {
        "question": "federation: import of a peer centre's bank, lookups on it, withdrawal to drop",
        "records": args.records,
        "seed_a_s": a_seed_s,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "ratios": {"import_vs_pytx": ratio_pytx, "import_vs_extension": ratio_ext},
        **m,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--b-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5,000 records, 3 withdrawals")
    parser.add_argument("--withdrawals", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2, help="haven serve --threads at centre A")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/test")
    parser.add_argument("--db", default="haven_bench_federation_a")
    parser.add_argument("--b-pg", action="store_true", help="centre B on PostgreSQL too (default: SQLite)")
    parser.add_argument("--json", type=Path, default=RESULTS / "federation.json")
    args = parser.parse_args()
    if args.b_worker:
        return b_worker()
    if args.quick:
        args.records = min(args.records, 5_000)
        args.withdrawals = min(args.withdrawals, 3)
    b_db = "haven_bench_federation_b"
    shared.create_database(args.pg, args.db)
    if args.b_pg:
        shared.create_database(args.pg, b_db)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="haven-bench-fed-a-") as a_dir,
            tempfile.TemporaryDirectory(prefix="haven-bench-fed-b-") as b_dir,
        ):
            b_env = {k: v for k, v in os.environ.items() if not k.startswith(("HAVEN_", "DJANGO_"))}
            b_env.update(
                HAVEN_DATA_DIR=b_dir,
                HAVEN_SECRET_KEY=secrets.token_urlsafe(50),
                HAVEN_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
                HAVEN_AUDIT_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
                HAVEN_PEER_ALLOW_PRIVATE="true",
            )
            if args.b_pg:
                b_env["HAVEN_DATABASE_URL"] = shared.bench_url(args.pg, b_db)
            shared._setup_env(args, a_dir)
            from haven.web.core.commands import migrate, setup

            setup()
            migrate(sys.stdout)
            a = seed_a(args)
            print(f"seed: centre A with {args.records:,} shared records in {a['seed_s']:.1f} s", flush=True)
            gc.collect()
            gc.freeze()
            server = shared.Server(shared._free_port(), args.threads, Path(a_dir) / "serve.log")
            b = CentreB(b_env)
            try:
                print(f"haven serve answered after {server.wait():.1f} s (port {server.port})", flush=True)
                measured = measure(args, a, server.port, b)
                measured["b_db"] = "PostgreSQL" if args.b_pg else "SQLite"
            finally:
                b.stop()
                server.stop()
    finally:
        from django.db import connections

        connections.close_all()
        shared.drop_database(args.pg, args.db)
        if args.b_pg:
            shared.drop_database(args.pg, b_db)
    result = report(args, measured, a["seed_s"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
