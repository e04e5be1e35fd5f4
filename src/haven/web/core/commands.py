"""What the `haven` web subcommands do (cli.py only parses arguments and calls these)."""

from __future__ import annotations

import gc
import io
import os
import signal
import subprocess
import sys
import threading
from typing import Any, TextIO

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def setup(*, loopback_http: bool = False) -> None:
    """Configure Django. ``loopback_http``: serving plain HTTP on this machine only, so
    cookies cannot be marked Secure (unless HAVEN_SECURE_COOKIES says otherwise)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.web.config.settings")
    from haven.web.config.env import env_bool

    # Plain HTTP on this machine cannot carry Secure cookies; behind a reverse proxy the browser
    # speaks HTTPS to the proxy, so they stay Secure.
    if loopback_http and not env_bool("HAVEN_BEHIND_PROXY", False):
        os.environ.setdefault("HAVEN_SECURE_COOKIES", "false")
    import django

    django.setup()


def migrate(out: TextIO) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0, stdout=out)
    call_command("createcachetable", verbosity=0, stdout=out)  # the shared cache (rate limits)


def migrate_command(out: TextIO | None = None) -> int:
    """``haven migrate``: bring the database up to date (``haven serve`` also does on start), so
    that an upgrade can migrate once, before any server process starts."""
    out = out or sys.stdout
    setup()
    migrate(out)
    print("The database is up to date.", file=out)
    return 0


def default_workers(vendor: str) -> int:
    """Server processes when ``--workers`` is not given: one per core the process may use with
    PostgreSQL; one with SQLite, which lets one process write at a time (more would only wait)."""
    if vendor == "sqlite":
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def serve(
    host: str,
    port: int,
    demo: bool,
    threads: int,
    out: TextIO | None = None,
    with_worker: bool = False,
    workers: int | None = None,
    listen_fd: int | None = None,
) -> int:
    """Migrate, seed the demo if asked, and serve until stopped.  ``with_worker``: also run
    ``haven worker`` in a child process for as long as the server runs (scans, rechecks, sharing
    and reports then work on one machine with one command).  ``workers``: server processes behind
    the one port (see :class:`_Processes`).  ``listen_fd``: be one of them, on the socket its parent
    opened."""
    out = out or sys.stdout
    if demo:
        # The demo's practice forum, fetched over loopback by the worker (which inherits these).
        os.environ.setdefault("HAVEN_PRACTICE_SITE", "true")
        os.environ.setdefault("HAVEN_FETCH_ALLOW_LOOPBACK", "true")
        # Where this server reaches itself: the training sandboxes' practice sites are seeded there.
        if port:
            os.environ.setdefault("HAVEN_BASE_URL", f"http://127.0.0.1:{port}")
    setup(loopback_http=host in LOOPBACK)
    if listen_fd is not None:
        return _serve_socket(listen_fd, threads)
    from django.conf import settings
    from django.db import connection

    if demo and not settings.DEBUG and connection.vendor != "sqlite":
        print(
            "haven serve: --demo is refused on a production database (debug off, not SQLite): "
            "demo accounts and invented cases must never mix with real ones.",
            file=sys.stderr,
        )
        return 2
    migrate(out)
    if demo:
        from .demo import seed_demo

        login = seed_demo(practice_origin=f"http://127.0.0.1:{port}" if port else "")
        if login is not None:
            print("Demo organisation created (synthetic data only).", file=out)
            print(f"  Log in as:   {login.username}", file=out)
            print(f"  Password:    {login.password}", file=out)
            codes = "  ".join(login.backup_codes)
            print(f"  Second step: one of these backup codes (each works once): {codes}", file=out)
        else:
            print("Demo data already present; log in with the account printed on first start.", file=out)
    count = workers if workers is not None else default_workers(connection.vendor)
    connection.close()
    if count > 1:
        return _serve_processes(host, port, threads, count, with_worker, out)
    try:
        server = _waitress(threads, host=host.strip("[]"), port=port)
    except OSError as exc:
        print(f"haven serve: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    background = _start_worker(out) if with_worker else None
    print(f"Haven is running at http://{_shown(host)}:{port}/  (Ctrl+C to stop)", file=out, flush=True)
    return _run(server, background)


def _run(server: Any, background: _Worker | None = None) -> int:
    """Serve until stopped: by a service manager (SIGTERM) as by Ctrl+C, the server closes (and
    the worker it started stops)."""
    signal.signal(signal.SIGTERM, _interrupt)
    _freeze()
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if background is not None:
            background.stop()
    return 0


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _freeze() -> None:
    # Django's modules and settings never die: keep them out of full collections, which otherwise
    # walk ~150,000 objects (70-80 ms) in the middle of whichever request is running.
    gc.collect()
    gc.freeze()


def _waitress(threads: int, **where: Any) -> Any:
    from django.conf import settings
    from waitress import create_server

    from haven.web.config.wsgi import application

    proxy: dict[str, object] = {}
    if settings.HAVEN_BEHIND_PROXY:
        # Waitress takes the client's address and scheme from the proxy's headers, and from no one
        # else's: without this it drops them, and every client looks like the proxy.
        proxy = {
            "trusted_proxy": settings.HAVEN_TRUSTED_PROXY,
            "trusted_proxy_count": 1,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto"},
            "clear_untrusted_proxy_headers": True,
        }
    # Request bodies stay in memory up to Haven's own limits (waitress would spill any body over
    # 512 KiB into a temporary file: a survivor's submission must not land on disk).
    in_memory = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 2**20
    return create_server(
        application, threads=threads, ident="Haven", inbuf_overflow=in_memory, **where, **proxy
    )


def _serve_socket(fd: int, threads: int) -> int:
    """One of several server processes: serve on the listening socket the parent passed down."""
    import socket

    return _run(_waitress(threads, sockets=[socket.socket(fileno=fd)]))


SNAPSHOT_EVERY = 600.0
"""Seconds between checks whether the index snapshots should be rewritten (when the change log
has grown since): the changes each process keeps in its own memory stay few."""
RESTARTS = 5
"""A server process that dies is started again, but no more than this many times a minute."""


class _Processes:
    """``haven serve --workers N``: N server processes accept connections on one listening
    socket, which this parent opens and passes down; it starts again a process that dies, and
    rewrites the index snapshots that all of them map (``haven.web.cases.snapshot``), so that
    the index is in memory once however many processes serve.  Rate limits and lock-outs hold
    across them through the shared cache (the database's by default, or Redis)."""

    def __init__(self, sock: Any, argv: list[str], count: int, env: dict[str, str]) -> None:
        self.sock, self.argv, self.env = sock, argv, env
        self.children: list[subprocess.Popen[bytes]] = [self._spawn() for _ in range(count)]
        self.restarts: list[float] = []
        self.snapshotting: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        fd = self.sock.fileno()
        argv = [*self.argv, "--listen-fd", str(fd)]  # this Python running haven: no outside input
        return subprocess.Popen(argv, pass_fds=(fd,), env=self.env)  # noqa: S603

    def supervise(self) -> int:
        import time

        next_snapshot = time.monotonic() + SNAPSHOT_EVERY
        while True:
            time.sleep(0.5)
            for n, child in enumerate(self.children):
                code = child.poll()
                if code is None:
                    continue
                now = time.monotonic()
                self.restarts = [t for t in self.restarts if now - t < 60] + [now]
                if len(self.restarts) > RESTARTS:
                    print(
                        f"haven serve: server processes keep stopping (the last with exit status {code}); "
                        "giving up.",
                        file=sys.stderr,
                        flush=True,
                    )
                    return 1
                print(
                    f"haven serve: server process {child.pid} stopped (exit status {code}); "
                    "starting another.",
                    file=sys.stderr,
                    flush=True,
                )
                self.children[n] = self._spawn()
            if self.snapshotting is not None and self.snapshotting.poll() is not None:
                self.snapshotting = None
            if time.monotonic() >= next_snapshot and self.snapshotting is None:
                next_snapshot = time.monotonic() + SNAPSHOT_EVERY
                if _index_changed():
                    self.snapshotting = _snapshot_process(self.env)

    def stop(self) -> None:
        for child in [*self.children, *([self.snapshotting] if self.snapshotting else [])]:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _snapshot_process(env: dict[str, str]) -> subprocess.Popen[bytes]:
    # In a process of its own: building a snapshot of a large bank takes memory that this long-
    # lived parent would otherwise keep.
    return subprocess.Popen([sys.executable, "-m", "haven.cli", "index", "snapshot", "--quiet"], env=env)


def _index_changed() -> bool:
    from django.db import connection

    from haven.web.cases import snapshot
    from haven.web.cases.matching import ContentIndex
    from haven.web.federation.matching import ImportedIndex

    try:
        return any(
            (snapshot.latest_version(index.name) or -1) < index._latest_version()
            for index in (ContentIndex(), ImportedIndex())
        )
    finally:
        connection.close()


def _serve_processes(host: str, port: int, threads: int, count: int, with_worker: bool, out: TextIO) -> int:
    import shutil
    import socket

    from django.conf import settings

    bare = host.strip("[]")
    try:
        family = socket.AF_INET6 if ":" in bare else socket.AF_INET
        sock = socket.create_server((bare, port), family=family, backlog=2048)
    except OSError as exc:
        print(f"haven serve: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        return 1
    # Each process counts its own lookups into files here; /metrics adds them up.
    counts = settings.DATA_DIR / "prometheus"
    shutil.rmtree(counts, ignore_errors=True)
    counts.mkdir(mode=0o700, parents=True)
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(counts)}
    if _snapshot_process(env).wait() != 0:
        print("haven serve: the index snapshot failed; each process loads the index itself.", file=sys.stderr)
    argv = [
        sys.executable,
        "-m",
        "haven.cli",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--threads",
        str(threads),
    ]
    signal.signal(signal.SIGTERM, _interrupt)
    processes = _Processes(sock, argv, count, env)
    background = _start_worker(out) if with_worker else None
    print(
        f"Haven is running at http://{_shown(host)}:{port}/ in {count} processes  (Ctrl+C to stop)",
        file=out,
        flush=True,
    )
    code = 0
    try:
        code = processes.supervise()
    except KeyboardInterrupt:
        pass
    finally:
        processes.stop()
        if background is not None:
            background.stop()
        sock.close()
    return code


class _Worker:
    """``haven worker`` as a child of ``haven serve``: started after the database is migrated,
    reported if it stops on its own, stopped with the server."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.stopping = threading.Event()
        threading.Thread(target=self._watch, name="haven-worker-watch", daemon=True).start()

    def _watch(self) -> None:
        code = self.process.wait()
        if not self.stopping.is_set():
            print(
                f"haven serve: the background worker stopped (exit status {code}); scans, rechecks "
                "and sharing wait until it runs again (haven worker).",
                file=sys.stderr,
                flush=True,
            )

    def stop(self) -> None:
        self.stopping.set()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _start_worker(out: TextIO) -> _Worker:
    process = subprocess.Popen([sys.executable, "-m", "haven.cli", "worker"], env=os.environ.copy())
    print(f"Background worker started (process {process.pid}).", file=out, flush=True)
    return _Worker(process)


def _organisation(slug: str, command: str) -> Any:
    """The organisation with this short name, or None after saying on stderr that there is none."""
    from haven.web.accounts.models import Organisation

    found = Organisation.objects.filter(slug=slug).first()
    if found is None:
        print(f"haven {command}: no organisation {slug!r}", file=sys.stderr)
    return found


def create_organisation(
    slug: str,
    name: str,
    country: str,
    time_zone: str,
    child_protection_info: str = "",
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    setup()
    migrate(io.StringIO())  # a fresh database has no tables yet: `haven createorg` comes first
    from haven.web.accounts.actions import create_organisation as create
    from haven.web.core.errors import ActionError

    try:
        org = create(
            actor="cli",
            name=name,
            slug=slug,
            country=country,
            time_zone=time_zone,
            child_protection_info=child_protection_info,
        )
    except ActionError as exc:
        print(f"haven createorg: {exc}", file=sys.stderr)
        return 1
    print(f"created organisation {org.slug}", file=out)
    return 0


def create_user(username: str, org: str, role: str, password: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    setup()
    migrate(io.StringIO())
    from haven.web.accounts.actions import create_user as create
    from haven.web.accounts.models import Organisation
    from haven.web.core.errors import ActionError

    organisation = Organisation.objects.filter(slug=org).first()
    if organisation is None:
        print(
            f"haven createuser: no organisation {org!r} (create it with `haven createorg`)", file=sys.stderr
        )
        return 1
    try:
        create(actor="cli", username=username, organisation=organisation, role=role, password=password)
    except ActionError as exc:
        print(f"haven createuser: {exc}", file=sys.stderr)
        return 1
    print(f"created {role} {username} in {organisation.slug}", file=out)
    return 0


def create_token(username: str, name: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    setup()
    from haven.web.accounts.actions import create_token as create
    from haven.web.accounts.models import User

    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        print(f"haven token create: no active user {username!r}", file=sys.stderr)
        return 1
    print(create(actor="cli", user=user, name=name), file=out)
    return 0


def audit_verify(
    out: TextIO | None = None, checkpoints: str | None = None, public_keys: list[str] | None = None
) -> int:
    """Check the chain, and with ``checkpoints`` (a directory or a ``.jsonl`` file) the trail against
    its signed checkpoints, with ``public_keys`` if given (an auditor's copies), else this server's."""
    out = out or sys.stdout
    setup()
    from haven.web.audit import checkpoints as marks
    from haven.web.audit.chain import broken_before_keying, verify
    from haven.web.audit.keys import public_key

    try:
        public = [public_key(text) for text in public_keys or []]
    except ValueError as exc:
        print(f"haven audit verify: {exc}", file=sys.stderr)
        return 2
    checked, broken = verify()
    if broken is not None:
        print(
            f"audit chain BROKEN at event #{broken.sequence}: {broken.reason} "
            f"({checked} events before it verified)",
            file=out,
        )
        return 1
    print(f"audit chain intact: {checked} events verified", file=out)
    for switch in broken_before_keying():
        print(
            f"WARNING: the trail was already {switch.summary.get('previous_check')} when it was linked "
            f"under a key (event #{switch.sequence}, {switch.created_at:%Y-%m-%d %H:%M} UTC); "
            f"its head was then {switch.summary.get('previous_head')}",
            file=out,
        )
    if checkpoints is None:
        return 0
    report = marks.verify(checkpoints, public)
    if report.problem is not None:
        where = f" at event #{report.problem.sequence}" if report.problem.sequence else ""
        print(f"audit checkpoints FAIL{where}: {report.problem.reason}", file=out)
        return 1
    latest = report.latest
    if latest is None:
        print("audit checkpoints: none written yet", file=out)
        return 0
    print(
        f"audit checkpoints intact: {report.checkpoints} checked; no event up to #{latest.sequence} "
        f"(checkpoint of {latest.at}) was removed or changed; {report.after} events after it",
        file=out,
    )
    if report.stale:
        print(
            "WARNING: no checkpoint since then, though events were written: is haven worker running? "
            "(haven audit checkpoint writes one now)",
            file=out,
        )
    return 0


def audit_checkpoint(out: TextIO | None = None) -> int:
    """Write a signed checkpoint of the chain head now (the worker does it on its own)."""
    out = out or sys.stdout
    setup()
    from haven.web.audit.checkpoints import path, write

    try:
        written = write(force=True)
    except OSError as exc:
        where = exc.filename or path()
        print(f"checkpoint NOT written: {exc.strerror or exc} ({where}); the file is as it was", file=out)
        return 1
    if written is None:
        print("audit trail is empty: no checkpoint written", file=out)
        return 0
    print(f"checkpoint of event #{written.sequence} appended to {path()}", file=out)
    return 0


def audit_public_key(out: TextIO | None = None) -> int:
    """The public keys that verify this server's checkpoints: give them to whoever audits it."""
    out = out or sys.stdout
    setup()
    from haven.web.audit.keys import keys

    for n, key in enumerate(keys()):
        print(f"{key.public_text}  key {key.id}{'  (current)' if n == 0 else ''}", file=out)
    return 0


def worker(batch: bool, out: TextIO | None = None) -> int:
    """Run background jobs until stopped (or, with ``batch``, until none are left)."""
    setup()
    from django.core.management import call_command

    from haven.web.audit.tasks import sweep as audit_sweep
    from haven.web.federation.tasks import sweep as federation_sweep
    from haven.web.monitoring.tasks import sweep as monitoring_sweep
    from haven.web.notifications.tasks import sweep as notifications_sweep
    from haven.web.reports.tasks import sweep as reports_sweep
    from haven.web.sharing.tasks import sweep as sharing_sweep
    from haven.web.takedown.tasks import sweep as takedown_sweep

    out = out or sys.stdout
    # Each sweep requeues itself: overdue deadlines, rechecks and scheduled scans missed while no
    # worker ran are caught up at once.
    takedown_sweep.enqueue()
    monitoring_sweep.enqueue()
    sharing_sweep.enqueue()
    federation_sweep.enqueue()
    reports_sweep.enqueue()
    audit_sweep.enqueue()
    notifications_sweep.enqueue()
    from .health import start_heartbeat, worker_name
    from .tasks import recover

    recover.enqueue()  # jobs a stopped worker left running
    # Jobs are claimed under the name the heartbeat uses, so that a lost worker's jobs are known.
    argv = ["db_worker", "--queue-name", "*", "--worker-id", worker_name()]
    if batch:
        argv += ["--batch", "--no-startup-delay"]

    # /healthz and `haven doctor` tell a live worker from a dead one by this.
    stop = threading.Event()
    heartbeat = start_heartbeat(stop)
    try:
        call_command(*argv, stdout=out)
    finally:
        stop.set()
        heartbeat.join(timeout=5)
    return 0


def doctor(as_json: bool = False, out: TextIO | None = None) -> int:
    """Check the deployment (settings, keys, database, cache, mail, worker); exit 1 on a problem."""
    import json

    from django.core.exceptions import ImproperlyConfigured

    out = out or sys.stdout
    try:
        setup()
    except ImproperlyConfigured as exc:
        # Settings that do not load are the first problem, and the only one that can be named.
        findings = [{"level": "problem", "name": "settings", "message": str(exc)}]
    else:
        from .doctor import diagnose

        findings = [vars(f) for f in diagnose()]
    problems = sum(f["level"] == "problem" for f in findings)
    warnings = sum(f["level"] == "warning" for f in findings)
    if as_json:
        print(
            json.dumps({"problems": problems, "warnings": warnings, "findings": findings}, indent=2), file=out
        )
    else:
        width = max(len(f["name"]) for f in findings)
        for f in findings:
            print(f"{f['level'].upper():8} {f['name']:{width}}  {f['message']}", file=out)
        print(f"\n{problems} problem(s), {warnings} warning(s)", file=out)
    return 1 if problems else 0


def index_snapshot(out: TextIO | None = None, *, quiet: bool = False) -> int:
    """Write a snapshot of each matching index that every server process maps (see
    ``haven.web.cases.snapshot``); ``haven serve --workers`` runs this itself."""
    import time

    out = out or sys.stdout
    setup()
    from haven.web.cases.matching import ContentIndex
    from haven.web.federation.matching import ImportedIndex

    for index in (ContentIndex(), ImportedIndex()):
        started = time.perf_counter()
        path = index.write_snapshot()
        if not quiet:
            seconds = time.perf_counter() - started
            print(f"{index.name}: {path} ({seconds:.1f} s)", file=out, flush=True)
    return 0


def rotate_keys(out: TextIO | None = None) -> int:
    """Queue the job that rewrites encrypted values under the current key."""
    setup()
    from .tasks import reencrypt_with_current_key

    out = out or sys.stdout
    result = reencrypt_with_current_key.enqueue()
    print(f"queued re-encryption job {result.id}; `haven worker` runs it", file=out)
    return 0


def partner_create(
    name: str,
    org: str,
    kind: str,
    contact: str,
    as_json: bool,
    rate_limit: int | None = None,
    out: TextIO | None = None,
) -> int:
    """Register a sharing partner and print its keys (shown this once)."""
    import json

    out = out or sys.stdout
    setup()
    from haven.web.core.errors import ActionError
    from haven.web.sharing.actions import create_partner
    from haven.web.sharing.models import DEFAULT_RATE_LIMIT

    organisation = _organisation(org, "partner create")
    if organisation is None:
        return 1
    try:
        partner, keys = create_partner(
            actor="cli",
            organisation=organisation,
            name=name,
            kind=kind,
            contact=contact,
            rate_limit=DEFAULT_RATE_LIMIT if rate_limit is None else rate_limit,
        )
    except ActionError as exc:
        print(f"haven partner create: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(keys.as_dict()), file=out)
        return 0
    print(
        f"registered {partner.kind} {partner.name} for {organisation.slug}; its keys (shown once):", file=out
    )
    print(f"  subscription key (Ocp-Apim-Subscription-Key): {keys.subscription_key}", file=out)
    print(f"  fetch key (x-functions-key for FetchHashes, feed): {keys.fetch_key}", file=out)
    print(f"  feedback key (SubmitFeedback, opinions):          {keys.feedback_key}", file=out)
    print(f"  submit key (SubmitHashes, hashes):                {keys.submit_key}", file=out)
    return 0


def partner_revoke(name: str, org: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    setup()
    from haven.web.sharing.actions import revoke_partner
    from haven.web.sharing.models import Partner

    partner = Partner.objects.filter(organisation__slug=org, name=name).first()
    if partner is None:
        print(f"haven partner revoke: no partner {name!r} in {org!r}", file=sys.stderr)
        return 1
    revoke_partner(actor="cli", partner=partner)
    print(f"revoked {partner.name}: its keys no longer work", file=out)
    return 0


def sharing_approve(case_number: str, out: TextIO | None = None) -> int:
    """Mark every share-consented item of a case as reviewed and fit to share."""
    out = out or sys.stdout
    setup()
    from haven.web.cases.models import Case
    from haven.web.core.errors import ActionError
    from haven.web.sharing.actions import approve_items

    case = Case.objects.filter(number=case_number.strip().upper()).first()
    if case is None:
        print(f"haven sharing approve: no case {case_number!r}", file=sys.stderr)
        return 1
    try:
        result = approve_items(actor=_CliReviewer(case.organisation_id), case=case)
    except ActionError as exc:
        print(f"haven sharing approve: {exc}", file=sys.stderr)
        return 1
    print(f"{case.number}: {result.approved} item(s) now shared", file=out)
    for label, reason in result.skipped:
        print(f"  not shared: {label}: {reason}", file=sys.stderr)
    return 0


def _find_peer(name: str, org: str | None, command: str) -> object | None:
    from haven.web.federation.models import Peer

    peers = Peer.objects.filter(name=name)
    if org:
        peers = peers.filter(organisation__slug=org)
    found = list(peers.select_related("organisation")[:2])
    if not found:
        print(f"haven {command}: no peer {name!r}" + (f" in {org!r}" if org else ""), file=sys.stderr)
        return None
    if len(found) > 1:
        print(f"haven {command}: several organisations have a peer {name!r}; give --org", file=sys.stderr)
        return None
    return found[0]


def peer_add(
    name: str, org: str, url: str, keys_path: str, every: int, as_json: bool, out: TextIO | None = None
) -> int:
    """Import another centre's native feed with the keys it issued (``haven partner create --json``)."""
    import json

    out = out or sys.stdout
    try:
        with open(keys_path, encoding="utf-8") as fh:
            keys = json.load(fh)
    except OSError as exc:
        print(f"haven peer add: cannot read {keys_path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except ValueError:
        print(
            f"haven peer add: {keys_path} is not the JSON `haven partner create --json` printed",
            file=sys.stderr,
        )
        return 2
    setup()
    from haven.web.core.errors import ActionError
    from haven.web.federation.actions import add_peer

    organisation = _organisation(org, "peer add")
    if organisation is None:
        return 1
    try:
        peer = add_peer(
            actor="cli", organisation=organisation, name=name, url=url, keys=keys, every_minutes=every
        )
    except ActionError as exc:
        print(f"haven peer add: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(
            json.dumps(
                {"id": peer.pk, "name": peer.name, "url": peer.url, "every_minutes": peer.every_minutes}
            ),
            file=out,
        )
    else:
        print(
            f"{organisation.slug} now imports {peer.name} ({peer.url}) every {peer.every_minutes} min",
            file=out,
        )
    return 0


def peer_fetch(name: str, org: str | None, as_json: bool, out: TextIO | None = None) -> int:
    """Fetch one peer's feed now; exit 1 when the fetch failed."""
    import json

    out = out or sys.stdout
    setup()
    from haven.web.federation.actions import fetch_peer

    peer = _find_peer(name, org, "peer fetch")
    if peer is None:
        return 1
    outcome = fetch_peer(peer.pk, actor="cli")  # type: ignore[attr-defined]
    if as_json:
        print(json.dumps(outcome.as_dict()), file=out)
    elif outcome.error:
        print(f"haven peer fetch: {outcome.peer}: {outcome.error}", file=sys.stderr)
    else:
        print(
            f"{outcome.peer}: {outcome.pages} page(s), {outcome.added} added, {outcome.updated} updated, "
            f"{outcome.removed} removed; {outcome.items} item(s) in the bank, "
            f"checkpoint {outcome.checkpoint}",
            file=out,
        )
    return 1 if outcome.error else 0


def regimes_list(as_json: bool, out: TextIO | None = None) -> int:
    """``haven regimes``: each legal regime's country, recipients, deadline, languages and elements."""
    import json

    out = out or sys.stdout
    setup()
    from django.utils import translation

    from haven.web.takedown.regimes import LANGUAGES, REGIMES, describe

    with translation.override("en"):
        if as_json:
            print(json.dumps([describe(r) for r in REGIMES.values()], ensure_ascii=False, indent=2), file=out)
            return 0
        for r in REGIMES.values():
            deadline = f"{r.deadline_hours} h" if r.deadline_hours else "the platform's own"
            print(f"{r.code}: {r.name}", file=out)
            print(f"  country: {r.country or 'any (platform rules)'}; deadline: {deadline}", file=out)
            sent = "through the platform's web form" if r.via_web_form else "by e-mail, with a PDF"
            print(f"  to: {', '.join(r.recipients)}, {sent}; languages: {', '.join(LANGUAGES)}", file=out)
            print(f"  requires: {', '.join(r.required)}", file=out)
            print(f"  if refused: {r.escalation}", file=out)
    return 0


def peer_list(org: str | None, as_json: bool, out: TextIO | None = None) -> int:
    import json

    out = out or sys.stdout
    setup()
    from django.db.models import Count

    from haven.web.federation.models import Peer

    peers = Peer.objects.select_related("organisation").annotate(items_count=Count("items"))
    if org:
        peers = peers.filter(organisation__slug=org)
    rows = [
        {
            "name": p.name,
            "organisation": p.organisation.slug,
            "url": p.url,
            "items": p.items_count,
            "checkpoint": p.checkpoint,
            "last_success_at": p.last_success_at.isoformat() if p.last_success_at else None,
            "last_error": p.last_error,
        }
        for p in peers
    ]
    if as_json:
        print(json.dumps(rows), file=out)
        return 0
    for row in rows:
        state = (
            f"failing: {row['last_error']}"
            if row["last_error"]
            else f"last good {row['last_success_at'] or 'never'}"
        )
        print(
            f"{row['organisation']}  {row['name']}  {row['url']}  {row['items']} item(s)  {state}", file=out
        )
    return 0


class _CliReviewer:
    """The operator at the command line, acting for the case's organisation: may approve sharing."""

    is_authenticated = True
    pk = None

    def __init__(self, organisation_id: int) -> None:
        self.organisation_id = organisation_id

    def can(self, perm: object) -> bool:
        from haven.web.accounts.roles import Perm

        return perm == Perm.APPROVE_SHARING

    def __str__(self) -> str:
        return "cli"


def sharing_export(out_path: str, org: str, partner_name: str, since: int, out: TextIO | None = None) -> int:
    """Write a partner's shared hashes to a signed file (``haven sharing export``)."""
    import shlex

    out = out or sys.stdout
    setup()
    from haven.web.core.errors import ActionError
    from haven.web.federation.actions.offline import export_for_partner
    from haven.web.sharing.models import Partner

    partner = Partner.objects.filter(organisation__slug=org, name=partner_name).first()
    if partner is None:
        print(f"haven sharing export: no partner {partner_name!r} in {org!r}", file=sys.stderr)
        return 1
    try:
        result = export_for_partner(actor="cli", partner=partner, out=out_path, since=since)
    except ActionError as exc:
        print(f"haven sharing export: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"haven sharing export: cannot write {out_path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {result.records} record(s) for {result.partner} to {result.path} "
        f"({result.active} active, {result.withdrawn} withdrawn, {result.deleted} deleted), "
        f"feed positions {result.after} to {result.checkpoint}",
        file=out,
    )
    print(f"signed by {result.centre}, fingerprint {result.fingerprint}", file=out)
    print(
        f"next file: haven sharing export --org {shlex.quote(org)} --partner {shlex.quote(result.partner)} "
        f"--since {result.checkpoint} OUT.jsonl",
        file=out,
    )
    return 0


def sharing_verify(path: str, fingerprint: str | None, as_json: bool, out: TextIO | None = None) -> int:
    """Check a signed file (``haven sharing verify``): runs without Django, no settings, no database."""
    import datetime as dt
    import json

    from haven.web.federation import signed_file

    out = out or sys.stdout
    if fingerprint is not None:
        try:
            signed_file.normalise_fingerprint(fingerprint)
        except signed_file.FileProblem as exc:
            print(f"haven sharing verify: {exc}", file=sys.stderr)
            return 2
    try:
        found = signed_file.read_signed(path, expected_fingerprint=fingerprint)
    except OSError as exc:
        print(f"haven sharing verify: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except signed_file.FileProblem as exc:
        print(f"haven sharing verify: {path}: {exc}", file=sys.stderr)
        if as_json:
            print(json.dumps({"valid": False, "error": str(exc)}), file=out)
        return 1
    summary = found.summary()
    if as_json:
        print(
            json.dumps({"valid": True, "fingerprint_checked": fingerprint is not None, **summary}),
            file=out,
        )
        return 0
    made = dt.datetime.fromtimestamp(found.created_at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    print(f"intact: the signature matches the key of {found.centre}", file=out)
    print(f"  fingerprint: {found.fingerprint}", file=out)
    print(f"  made for:    {found.partner}, {made}", file=out)
    print(f"  feed:        after position {found.after}, up to position {found.checkpoint}", file=out)
    print(
        f"  records:     {len(found.records)} ({summary['active']} active, {summary['withdrawn']} "
        f"withdrawn, {summary['deleted']} deleted)",
        file=out,
    )
    if fingerprint is not None:
        print("  the fingerprint is the one you gave: the file comes from that centre", file=out)
    else:
        print(
            "  compare the fingerprint with the one the centre gave you (by phone, in person) before "
            "trusting the file, or give it with --fingerprint",
            file=out,
        )
    return 0


def sharing_import(
    path: str, org: str, peer_name: str, trust: str | None, as_json: bool, out: TextIO | None = None
) -> int:
    """Import another centre's signed file into a peer's imported bank (``haven sharing import``)."""
    import json

    out = out or sys.stdout
    if trust is not None:
        from haven.web.federation import signed_file

        try:
            signed_file.normalise_fingerprint(trust)
        except signed_file.FileProblem as exc:
            print(f"haven sharing import: --trust: {exc}", file=sys.stderr)
            return 2
    setup()
    from haven.web.core.errors import ActionError
    from haven.web.federation.actions.offline import import_file

    organisation = _organisation(org, "sharing import")
    if organisation is None:
        return 1
    try:
        result = import_file(
            actor="cli", organisation=organisation, peer_name=peer_name, path=path, trust=trust
        )
    except ActionError as exc:
        print(f"haven sharing import: {path}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"haven sharing import: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(result.as_dict()), file=out)
        return 0
    if result.peer_created:
        print(f"added peer {result.peer} ({result.centre}, fingerprint {result.fingerprint})", file=out)
    print(
        f"{result.peer}: {result.records} record(s) imported: {result.added} added, {result.updated} "
        f"updated, {result.removed} removed; {result.items} item(s) in the bank, "
        f"checkpoint {result.checkpoint}",
        file=out,
    )
    return 0


def centre_key(org: str, as_json: bool, out: TextIO | None = None) -> int:
    """Print the organisation's key card (``haven centre key``), made on first use."""
    import json

    out = out or sys.stdout
    setup()
    from haven.web.federation.identity import key_card

    organisation = _organisation(org, "centre key")
    if organisation is None:
        return 1
    card = key_card(organisation)
    if as_json:
        print(json.dumps(card.as_dict(), ensure_ascii=False), file=out)
        return 0
    data = card.as_dict()
    print(f"{card.centre} ({organisation.slug})", file=out)
    print(f"  fingerprint:  {card.fingerprint}", file=out)
    print(f"  signing key:  {data['signing_key']}", file=out)
    print(f"  exchange key: {data['exchange_key']}", file=out)
    print(
        "Read the fingerprint to the other centre or partner by phone or in person; they check files "
        "with `haven sharing verify --fingerprint` or `haven sharing import --trust`.",
        file=out,
    )
    return 0


def transfer(args: Any, out: TextIO | None = None) -> int:
    """``haven transfer ACTION``: each action as the staff member ``--user``; 1 when refused."""
    import json

    out = out or sys.stdout
    command = f"haven transfer {args.transfer_command}"
    setup()
    from django.core.exceptions import PermissionDenied

    from haven.web.accounts.models import User
    from haven.web.core.errors import ActionError, NotFound

    user = User.objects.filter(username=args.user, is_active=True).select_related("organisation").first()
    if user is None or user.organisation_id is None:
        print(f"{command}: no active staff member {args.user!r}", file=sys.stderr)
        return 1
    try:
        result = _transfer_action(args, user)
    except (ActionError, NotFound, PermissionDenied) as exc:
        reason = str(exc) or ("not found" if isinstance(exc, NotFound) else "not allowed")
        print(f"{command}: {reason}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{command}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result), file=out)
    else:
        for key, value in result.items() if isinstance(result, dict) else ():
            print(f"{key}: {value}", file=out)
        for row in result if isinstance(result, list) else ():
            print(f"{row['direction']}  {row['offer_id']}  {row['centre']}  {row['state']}", file=out)
    return 0


def _transfer_row(t: Any, direction: str) -> dict[str, Any]:
    incoming = direction == "in"
    case = t.case
    return {
        "offer_id": str(t.offer_id),
        "direction": direction,
        "centre": t.from_centre if incoming else t.partner.name,
        "state": t.state,
        "parts": list(t.parts),
        "case_number": case.number if case is not None else None,
    }


def _transfer_action(args: Any, user: Any) -> Any:
    from pathlib import Path

    from haven.web.cases.models import Case
    from haven.web.core.errors import ActionError, NotFound
    from haven.web.federation.actions import transfers
    from haven.web.federation.models import IncomingTransfer, OutgoingTransfer
    from haven.web.sharing.models import Partner

    org = user.organisation_id
    what = args.transfer_command

    def outgoing() -> Any:
        found = OutgoingTransfer.objects.filter(organisation_id=org, offer_id=_uuid(args.offer_id)).first()
        if found is None:
            raise NotFound
        return found

    def incoming() -> Any:
        found = IncomingTransfer.objects.filter(organisation_id=org, offer_id=_uuid(args.offer_id)).first()
        if found is None:
            raise NotFound
        return found

    if what == "offer":
        case = Case.objects.filter(organisation_id=org, number=args.case_number.strip().upper()).first()
        partner = Partner.objects.filter(organisation_id=org, name=args.to).first()
        if case is None:
            raise ActionError(f"no case {args.case_number!r}")
        if partner is None:
            raise ActionError(f"no partner centre {args.to!r}")
        parts = [p.strip() for p in args.parts.split(",") if p.strip()]
        made = transfers.offer_transfer(actor=user, case=case, partner=partner, parts=parts, note=args.note)
        return _transfer_row(made, "out")
    if what == "revoke":
        return _transfer_row(transfers.revoke_transfer(actor=user, transfer=outgoing()), "out")
    if what == "accept":
        t = incoming()
        transfers.accept_transfer(actor=user, transfer=t)
        return _transfer_row(IncomingTransfer.objects.get(pk=t.pk), "in")
    if what == "reject":
        return _transfer_row(transfers.reject_transfer(actor=user, transfer=incoming()), "in")
    if what == "list":
        from haven.web.accounts.roles import Perm
        from haven.web.core.access import require

        require(user, Perm.TRANSFER_CASES)
        rows = [_transfer_row(t, "out") for t in OutgoingTransfer.objects.filter(organisation_id=org)]
        return rows + [_transfer_row(t, "in") for t in IncomingTransfer.objects.filter(organisation_id=org)]
    if what == "export":
        data = transfers.export_transfer(actor=user, transfer=outgoing())
        Path(args.out).write_bytes(data)
        return {"offer_id": args.offer_id, "written": args.out, "bytes": len(data)}
    if what == "receipt":
        data = transfers.receipt(actor=user, transfer=incoming())
        Path(args.out).write_bytes(data)
        return {"offer_id": args.offer_id, "written": args.out}
    # import
    data = Path(args.file).read_bytes()
    found = transfers.import_file(actor=user, organisation=org, data=data, trust=args.trust or "")
    return _transfer_row(found, "in" if isinstance(found, IncomingTransfer) else "out")


def _uuid(text: str) -> str:
    import uuid

    from haven.web.core.errors import ActionError

    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ActionError(f"{text!r} is not an offer id") from None


def report(
    name: str,
    org: str,
    period: str,
    filters: list[str],
    fmt: str,
    language: str,
    out_path: str | None,
    out: TextIO | None = None,
    *,
    fetch: bool = False,
) -> int:
    """Print or write a report (``haven report``); 0 when written, 1 on a bad name, period or filter."""
    out = out or sys.stdout
    setup()
    from django.utils import translation

    from haven.web.reports.actions import produce_report
    from haven.web.reports.pdf import render_report_pdf
    from haven.web.reports.periods import Period, PeriodError
    from haven.web.reports.standard import ReportError, parse_filters

    organisation = _organisation(org, "report")
    if organisation is None:
        return 1
    if fmt == "pdf" and not out_path:
        print("haven report: a PDF needs --out FILE", file=sys.stderr)
        return 1
    if fmt == "pdf":
        from haven.web.core.pdf import pdf_language

        if pdf_language(language) != language:
            print(f"haven report: no PDF font for {language!r} yet: the PDF is in English", file=sys.stderr)
            language = pdf_language(language)
    if fetch:
        from haven.web.reports.pooled import fetch_figures

        try:
            when = Period.parse(period)
        except PeriodError as exc:
            print(f"haven report: {exc}", file=sys.stderr)
            return 1
        for fetched in fetch_figures(actor="cli", organisation=organisation, period=when):
            state = f"failed: {fetched.error}" if fetched.error else "fetched"
            print(f"figures of {fetched.centre} for {when}: {state}", file=sys.stderr)
    with translation.override(language):
        try:
            made = produce_report(
                actor="cli",
                organisation=organisation,
                name=name,
                period=period,
                filters=parse_filters(filters),
                output=fmt,
            )
        except (ReportError, PeriodError) as exc:
            print(f"haven report: {exc}", file=sys.stderr)
            return 1
        if fmt == "pdf":
            data: bytes | str = render_report_pdf(made, language=language)
        else:
            data = made.to_csv() if fmt == "csv" else made.to_json()
    if out_path is None:
        out.write(str(data))
        return 0
    try:
        with open(out_path, "wb") as fh:
            fh.write(data if isinstance(data, bytes) else data.encode())
    except OSError as exc:
        print(f"haven report: cannot write {out_path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {made.title}, {made.period}, to {out_path}", file=out)
    return 0
