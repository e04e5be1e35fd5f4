"""The ``haven`` command: parses arguments and hands over to the library."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from haven import __version__


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 (one per CPU core) or more")
    return value or (os.cpu_count() or 1)


def _progress(total: int) -> Any:
    """A progress bar on stderr, drawn only when stderr is a terminal (never into piped output)."""
    from tqdm import tqdm

    return tqdm(
        total=total, unit="file", file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True
    )


def _cmd_hash(args: argparse.Namespace) -> int:
    from haven.signals import FileError, expand_paths, hash_files

    paths = list(expand_paths(args.paths))
    results = hash_files(paths, jobs=args.jobs, full_resolution=args.full_resolution, robust=args.robust)
    failed = 0
    out = sys.stdout
    with _progress(len(paths)) as bar:
        for result in results:
            if isinstance(result, FileError):
                failed += 1
            out.write(json.dumps(result.as_record(dihedral=args.dihedral), ensure_ascii=False) + "\n")
            bar.update(1)
    out.flush()
    return 1 if failed else 0


def _cmd_match(args: argparse.Namespace) -> int:
    from haven.signals import BankFormatError, expand_paths, load_bank, match_files

    try:
        with open(args.bank, encoding="utf-8") as fh:
            matcher = load_bank(fh)
    except OSError as exc:
        print(f"haven match: cannot read the bank {args.bank}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"haven match: the bank {args.bank} is not UTF-8 text", file=sys.stderr)
        return 2
    except BankFormatError as exc:
        print(f"haven match: {args.bank}: {exc}", file=sys.stderr)
        return 2
    paths = list(expand_paths(args.paths))
    failed = 0
    out = sys.stdout
    with _progress(len(paths)) as bar:
        for path, found in match_files(paths, matcher, jobs=args.jobs):
            record: dict[str, object] = {"path": path}
            if isinstance(found, Exception):
                failed += 1
                record["error"] = str(found)
            else:
                record["matches"] = [{"path": m.item, "distance": m.distance, "kind": m.kind} for m in found]
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            bar.update(1)
    out.flush()
    return 1 if failed else 0


def _cmd_scan(args: argparse.Namespace) -> int:
    from haven.scan import ScanCommand, run_scan_command

    command = ScanCommand(
        sources=args.sources,
        bank=args.bank,
        scheduler=args.scheduler,
        depth=args.depth,
        max_pages=args.max_pages,
        same_site=args.same_site,
        allow_loopback=args.allow_loopback,
        threshold=args.threshold,
        jobs=args.jobs,
        videos=args.videos,
        robust=args.robust,
        text_bank=args.text_bank,
        queries=tuple(args.query or ()) + _query_file(args.query_file),
        search_delay_s=args.search_delay,
    )
    return run_scan_command(command, sys.stdout, sys.stderr)


def _query_file(path: str | None) -> tuple[str, ...]:
    if not path:
        return ()
    try:
        with open(path, encoding="utf-8") as fh:
            return tuple(line.strip() for line in fh if line.strip())
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"haven scan: cannot read the queries in {path}: {exc}") from None


def _cmd_text_bank(args: argparse.Namespace) -> int:
    from haven.scan import PersonalIdentifier, TextBank, TextBankError

    identifiers = []
    try:
        with open(args.identifiers, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                    if not isinstance(r, dict):
                        raise TypeError("not a JSON object")
                    alone = r.get("alone")
                    identifiers.append(
                        PersonalIdentifier(
                            id=str(r.get("id", number)),
                            case_id=str(r.get("case", "")),
                            kind=str(r["kind"]),
                            value=str(r["value"]),
                            alone=None if alone is None else bool(alone),
                            region=str(r.get("region", args.region)).upper(),
                        )
                    )
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    print(
                        f"haven text-bank: {args.identifiers}, line {number}: needs a JSON object with "
                        f"kind and value ({type(exc).__name__})",
                        file=sys.stderr,
                    )
                    return 2
        bank = TextBank.build(identifiers)
        bank.write(args.out)
    except OSError as exc:
        print(f"haven text-bank: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 2
    except (TextBankError, UnicodeDecodeError) as exc:
        print(f"haven text-bank: {exc}", file=sys.stderr)
        return 2
    print(f"haven text-bank: {len(bank)} identifiers hashed into {args.out}", file=sys.stderr)
    return 0


def _processes(text: str) -> int:
    value = _count(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _threshold(text: str) -> int:
    value = _count(text)
    if value > 64:
        raise argparse.ArgumentTypeError("a PDQ distance is between 0 and 64 bits")
    return value


_SCAN_SOURCES = """sources:
  https://site/page    crawl from this page (see --depth, --max-pages, --any-site)
  sitemap:URL          the pages a sitemap.xml or sitemap index lists
  feed:URL             the items of an RSS or Atom feed
  urls:FILE            the URLs in FILE, one a line (urls:- reads standard input)
  warc:FILE            pictures and videos archived in a WARC file (FILE.warc and
                       FILE.warc.gz are recognised without the prefix)
  search:URL           a site's own search, URL with {query} (and {page}), run for each
                       --query; the pages its results link to are scanned
  DIR                  picture and video files under a folder

Candidates are printed as JSON Lines on standard output; progress and a summary go to
standard error. Media are hashed in memory and never written to disk. Exit status 0 when
the scan ran (whether or not anything matched or some URLs failed), 2 on usage errors.
"""


def _add_scan_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = commands.add_parser(
        "scan",
        help="look for known pictures on web pages, feeds, sitemaps, folders or WARC files",
        description="Scan sources for pictures that match a bank of hashes (the output of `haven hash`).",
        epilog=_SCAN_SOURCES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("sources", nargs="+", metavar="SOURCE", help="where to look (see below)")
    s.add_argument("--bank", metavar="HASHES.jsonl", help="the hashes to look for (`haven hash` output)")
    s.add_argument("--threshold", type=_threshold, default=31, metavar="D", help="PDQ match distance (31)")
    s.add_argument("--depth", type=_count, default=1, metavar="N", help="links to follow from a page (1)")
    s.add_argument("--max-pages", type=_count, default=1000, metavar="N", help="pages per source (1000)")
    site = s.add_mutually_exclusive_group()
    site.add_argument(
        "--same-site",
        dest="same_site",
        action="store_true",
        default=True,
        help="a crawl stays on the start page's site and its subdomains (default)",
    )
    site.add_argument("--any-site", dest="same_site", action="store_false", help="a crawl may go anywhere")
    s.add_argument("--jobs", type=_jobs, default=1, metavar="N", help="hashing processes (0 = one per core)")
    s.add_argument(
        "--scheduler",
        metavar="tcp://HOST:8786",
        help="fetch and hash media on this Dask cluster (pip install 'haven[cluster]')",
    )
    s.add_argument("--videos", action="store_true", help="also hash videos, one frame a second (slow)")
    s.add_argument(
        "--no-robust",
        dest="robust",
        action="store_false",
        help="match the plain PDQ only (with rotations and flips), not the crops, padding, caption "
        "bands and small rotations that robust matching finds; faster",
    )
    s.add_argument(
        "--text-bank",
        metavar="BANK.jsonl",
        help="also read each page's text for these personal identifiers (`haven text-bank` output)",
    )
    s.add_argument("--query", action="append", metavar="TEXT", help="what a search: source searches for")
    s.add_argument("--query-file", metavar="FILE", help="queries for a search: source, one a line")
    s.add_argument(
        "--search-delay",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds between the requests of a search: source (1)",
    )
    s.add_argument(
        "--allow-loopback",
        action="store_true",
        help="for testing only: allow fetching from this machine (127.0.0.1, ::1)",
    )
    s.set_defaults(handler=_cmd_scan)
    t = commands.add_parser(
        "text-bank",
        help="hash a survivor's personal identifiers for `haven scan --text-bank`",
        description='Read identifiers as JSON Lines ({"case", "kind", "value"[, "id", "alone", '
        '"region"]}; kinds: name, phone, email, handle, place, keyword) and write them as keyed hashes '
        "with a new key. The output holds no identifier in readable form, but whoever has it can test "
        "guesses against it: keep it as private as the identifiers and delete it after the scan.",
    )
    t.add_argument("identifiers", metavar="IDENTIFIERS.jsonl")
    t.add_argument(
        "-o", "--out", required=True, metavar="BANK.jsonl", help="where to write the bank (mode 600)"
    )
    t.add_argument("--region", default="KR", help="the country phone numbers are dialled in (KR)")
    t.set_defaults(handler=_cmd_text_bank)


def _read_password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            print("haven createuser: the passwords differ", file=sys.stderr)
            return None
        return first
    print("haven createuser: give the password on standard input with --password-stdin", file=sys.stderr)
    return None


def _cmd_serve(args: argparse.Namespace) -> int:
    from haven.web.core.commands import serve

    return serve(
        args.host,
        args.port,
        args.demo,
        args.threads,
        with_worker=args.worker,
        workers=args.workers,
        listen_fd=args.listen_fd,
    )


def _cmd_migrate(args: argparse.Namespace) -> int:
    from haven.web.core.commands import migrate_command

    return migrate_command()


def _cmd_doctor(args: argparse.Namespace) -> int:
    from haven.web.core.commands import doctor

    return doctor(as_json=args.json)


def _cmd_index_snapshot(args: argparse.Namespace) -> int:
    from haven.web.core.commands import index_snapshot

    return index_snapshot(quiet=args.quiet)


def _cmd_createorg(args: argparse.Namespace) -> int:
    from haven.web.core.commands import create_organisation

    if args.sandbox:
        from haven.web.training.commands import create as create_sandbox

        return create_sandbox(args.slug, args.name, args.country, args.time_zone)
    return create_organisation(args.slug, args.name, args.country, args.time_zone, args.child_protection_info)


def _cmd_createuser(args: argparse.Namespace) -> int:
    from haven.web.core.commands import create_user

    password = _read_password(args)
    if password is None:
        return 2
    return create_user(args.username, args.org, args.role, password)


def _cmd_token_create(args: argparse.Namespace) -> int:
    from haven.web.core.commands import create_token

    return create_token(args.username, args.name)


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from haven.web.core.commands import audit_verify

    return audit_verify(checkpoints=args.checkpoints, public_keys=args.public_key)


def _cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    from haven.web.core.commands import audit_checkpoint

    return audit_checkpoint()


def _cmd_audit_public_key(args: argparse.Namespace) -> int:
    from haven.web.core.commands import audit_public_key

    return audit_public_key()


def _cmd_worker(args: argparse.Namespace) -> int:
    from haven.web.core.commands import worker

    return worker(args.batch)


def _cmd_rotate_keys(args: argparse.Namespace) -> int:
    from haven.web.core.commands import rotate_keys

    return rotate_keys()


def _cmd_partner_create(args: argparse.Namespace) -> int:
    from haven.web.core.commands import partner_create

    return partner_create(args.name, args.org, args.kind, args.contact, args.json, args.rate_limit)


def _cmd_partner_revoke(args: argparse.Namespace) -> int:
    from haven.web.core.commands import partner_revoke

    return partner_revoke(args.name, args.org)


def _cmd_sharing_approve(args: argparse.Namespace) -> int:
    from haven.web.core.commands import sharing_approve

    return sharing_approve(args.case_number)


def _cmd_peer_add(args: argparse.Namespace) -> int:
    from haven.web.core.commands import peer_add

    return peer_add(args.name, args.org, args.url, args.keys, args.every, args.json)


def _cmd_peer_fetch(args: argparse.Namespace) -> int:
    from haven.web.core.commands import peer_fetch

    return peer_fetch(args.name, args.org, args.json)


def _cmd_peer_list(args: argparse.Namespace) -> int:
    from haven.web.core.commands import peer_list

    return peer_list(args.org, args.json)


def _add_peer_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("peer", help="other centres' Haven servers whose shared banks this one imports")
    psub = p.add_subparsers(dest="peer_command", required=True, metavar="ACTION")
    pa = psub.add_parser("add", help="import a centre's native feed with the keys it issued to us")
    pa.add_argument("name")
    pa.add_argument("--org", required=True, help="our organisation's short name")
    pa.add_argument("--url", required=True, help="the other centre's Haven, e.g. https://haven.example.org")
    pa.add_argument(
        "--keys",
        required=True,
        metavar="FILE",
        help="the JSON its `haven partner create --kind centre --json` printed",
    )
    pa.add_argument("--every", type=_count, default=5, metavar="MIN", help="fetch every MIN minutes (5)")
    pa.add_argument("--json", action="store_true", help="print the peer as JSON")
    pa.set_defaults(handler=_cmd_peer_add)
    pf = psub.add_parser("fetch", help="fetch a peer's feed now (exit 1 when it fails)")
    pf.add_argument("name")
    pf.add_argument("--org", help="our organisation's short name (when several have a peer of that name)")
    pf.add_argument("--json", action="store_true", help="print what the fetch did as JSON")
    pf.set_defaults(handler=_cmd_peer_fetch)
    pl = psub.add_parser("list", help="the peers, their banks and their last fetch")
    pl.add_argument("--org", help="only this organisation's peers")
    pl.add_argument("--json", action="store_true", help="print a JSON list")
    pl.set_defaults(handler=_cmd_peer_list)


def _cmd_transfer(args: argparse.Namespace) -> int:
    from haven.web.core.commands import transfer

    return transfer(args)


def _add_transfer_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    t = commands.add_parser(
        "transfer",
        help="pass a case to another centre, or answer one offered (as a staff member, audited)",
        description=(
            "Case transfers between centres. Every action is taken as the staff member named by "
            "--user, with that person's permissions, and audited under their name."
        ),
    )
    tsub = t.add_subparsers(dest="transfer_command", required=True, metavar="ACTION")

    def action(name: str, help_: str) -> argparse.ArgumentParser:
        p = tsub.add_parser(name, help=help_)
        p.add_argument("--user", required=True, metavar="USERNAME", help="the staff member acting")
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.set_defaults(handler=_cmd_transfer)
        return p

    offer = action("offer", "offer a case to a partner centre (needs the survivor's transfer consent)")
    offer.add_argument("case_number")
    offer.add_argument("--to", required=True, metavar="CENTRE", help="the partner centre's name")
    offer.add_argument(
        "--parts",
        default="hashes,classification,consent",
        help="what the transfer carries, comma-separated: hashes, classification, consent, sightings, "
        "contact, notes (default: hashes,classification,consent)",
    )
    offer.add_argument("--note", default="", help="a note for the other centre (not encrypted: no names)")
    for name, help_ in (
        ("accept", "accept an offer made to us: our own case is made from it"),
        ("reject", "reject an offer made to us"),
        ("revoke", "revoke an offer we made, until the other centre accepts it"),
    ):
        action(name, help_).add_argument("offer_id")
    action("list", "offers made by us and to us")
    export = action("export", "write an open offer to a file, for a centre this server cannot reach")
    export.add_argument("offer_id")
    export.add_argument("--out", required=True, metavar="FILE")
    receipt = action("receipt", "write a signed receipt of our answer to an offer that came as a file")
    receipt.add_argument("offer_id")
    receipt.add_argument("--out", required=True, metavar="FILE")
    imp = action("import", "import an offer file (receiving side) or a receipt (offering side)")
    imp.add_argument("file")
    imp.add_argument(
        "--trust",
        metavar="FINGERPRINT",
        help="the offering centre's fingerprint, confirmed by phone, when it is not a peer of ours",
    )


def _add_sharing_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser("partner", help="platforms, hotlines and centres that fetch shared hashes")
    psub = p.add_subparsers(dest="partner_command", required=True, metavar="ACTION")
    pc = psub.add_parser("create", help="register a partner and print its keys (shown once)")
    pc.add_argument("name")
    pc.add_argument("--org", required=True, help="the organisation's short name")
    pc.add_argument("--kind", required=True, choices=["platform", "hotline", "centre"])
    pc.add_argument("--contact", default="", help="who to reach there about the exchange")
    pc.add_argument(
        "--rate-limit",
        type=_count,
        default=None,
        metavar="N",
        help="requests a minute before the partner gets 429 (3000)",
    )
    pc.add_argument(
        "--json",
        action="store_true",
        help='print {"fetch_key", "feedback_key", "submit_key", "subscription_key"} as JSON',
    )
    pc.set_defaults(handler=_cmd_partner_create)
    pr = psub.add_parser("revoke", help="revoke every key of a partner")
    pr.add_argument("name")
    pr.add_argument("--org", required=True, help="the organisation's short name")
    pr.set_defaults(handler=_cmd_partner_revoke)

    s = commands.add_parser("sharing", help="what is shared with partners")
    ssub = s.add_subparsers(dest="sharing_command", required=True, metavar="ACTION")
    sa = ssub.add_parser("approve", help="mark every share-consented item of a case as fit to share")
    sa.add_argument("case_number")
    sa.set_defaults(handler=_cmd_sharing_approve)
    _add_offline_sharing_commands(ssub)


def _cmd_sharing_export(args: argparse.Namespace) -> int:
    from haven.web.core.commands import sharing_export

    return sharing_export(args.out, args.org, args.partner, args.since)


def _cmd_sharing_verify(args: argparse.Namespace) -> int:
    from haven.web.core.commands import sharing_verify

    return sharing_verify(args.file, args.fingerprint, args.json)


def _cmd_sharing_import(args: argparse.Namespace) -> int:
    from haven.web.core.commands import sharing_import

    return sharing_import(args.file, args.org, args.peer, args.trust, args.json)


def _cmd_centre_key(args: argparse.Namespace) -> int:
    from haven.web.core.commands import centre_key

    return centre_key(args.org, args.json)


def _add_offline_sharing_commands(ssub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    se = ssub.add_parser(
        "export",
        help="write a partner's shared hashes to a file signed by this centre (for partners without an API)",
        description=(
            "Write the partner's native feed after position N (0: everything) to OUT.jsonl, signed "
            "with the organisation's key; what the partner is sent is recorded as if it had fetched. "
            "The summary line names the checkpoint to give as --since next time."
        ),
    )
    se.add_argument("out", metavar="OUT.jsonl", help="the file to write (replaced if it exists)")
    se.add_argument("--org", required=True, help="the organisation's short name")
    se.add_argument("--partner", required=True, metavar="NAME", help="the partner the file is for")
    se.add_argument(
        "--since",
        type=_count,
        default=0,
        metavar="N",
        help="start after this feed position: the checkpoint of the partner's last file (0)",
    )
    se.set_defaults(handler=_cmd_sharing_export)
    sv = ssub.add_parser(
        "verify",
        help="check a signed file of shared hashes (needs no server or database)",
        description=(
            "Check that FILE is a complete Haven sharing file whose signature matches, and print who "
            "signed it and what it holds. Exit status 0 when it is intact (and, with --fingerprint, "
            "signed by that centre), 1 when it is not, 2 when it cannot be read."
        ),
    )
    sv.add_argument("file", metavar="FILE")
    sv.add_argument(
        "--fingerprint",
        metavar="FP",
        help="the fingerprint the centre gave you (by phone, in person): refuse a file signed by any other",
    )
    sv.add_argument("--json", action="store_true", help="print the file's header and counts as JSON")
    sv.set_defaults(handler=_cmd_sharing_verify)
    si = ssub.add_parser(
        "import",
        help="import another centre's signed file into the imported bank of one of our peers",
    )
    si.add_argument("file", metavar="FILE")
    si.add_argument("--org", required=True, help="our organisation's short name")
    si.add_argument("--peer", required=True, metavar="NAME", help="the peer (centre) the file comes from")
    si.add_argument(
        "--trust",
        metavar="FINGERPRINT",
        help="add the peer, pinning the file's key, if it does not exist yet and the file's "
        "fingerprint is this one (confirmed with the centre by phone or in person)",
    )
    si.add_argument("--json", action="store_true", help="print what the import did as JSON")
    si.set_defaults(handler=_cmd_sharing_import)


def _add_centre_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    c = commands.add_parser("centre", help="this centre's own keys, for other centres and partners")
    csub = c.add_subparsers(dest="centre_command", required=True, metavar="ACTION")
    ck = csub.add_parser(
        "key",
        help="print the organisation's key card: the fingerprint to read to another centre or partner",
    )
    ck.add_argument("--org", required=True, help="the organisation's short name")
    ck.add_argument(
        "--json",
        action="store_true",
        help='print {"centre", "signing_key", "exchange_key", "fingerprint"} as JSON',
    )
    ck.set_defaults(handler=_cmd_centre_key)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is between 1 and 65535")
    return value


def _add_web_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = commands.add_parser("serve", help="migrate the database and serve the web app")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    s.add_argument("--threads", type=int, default=8, help="threads per server process (default 8)")
    s.add_argument(
        "--workers",
        type=_processes,
        default=None,
        metavar="N",
        help="server processes behind the one port, sharing one copy of the matching index (default: "
        "one per core with PostgreSQL, 1 with SQLite)",
    )
    s.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)  # a child of --workers
    s.add_argument(
        "--demo",
        action="store_true",
        help="on an empty database, create a demo organisation with synthetic cases and print a login",
    )
    s.add_argument(
        "--worker",
        action="store_true",
        help="also run the background worker (haven worker) for as long as the server runs",
    )
    s.set_defaults(handler=_cmd_serve)

    o = commands.add_parser("createorg", help="create an organisation (a support centre)")
    o.add_argument("slug", help="short name, e.g. seoul-centre")
    o.add_argument("--name", required=True)
    o.add_argument("--country", required=True, help="ISO 3166 two-letter code, e.g. KR")
    o.add_argument("--time-zone", default="UTC", help="e.g. Asia/Seoul")
    o.add_argument(
        "--child-protection-info",
        default="",
        help="hotlines shown on the survivor portal to people who were under 18 when the content was made",
    )
    o.add_argument(
        "--sandbox",
        action="store_true",
        help="a training sandbox: synthetic cases, mail kept in its own mailbox, never shown to survivors; "
        "it can never become a real organisation",
    )
    o.set_defaults(handler=_cmd_createorg)

    u = commands.add_parser("createuser", help="create a staff account")
    u.add_argument("username")
    u.add_argument("--org", required=True, help="the organisation's short name")
    u.add_argument(
        "--role", required=True, choices=["admin", "counsellor", "deletion_officer", "reviewer", "analyst"]
    )
    u.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    u.set_defaults(handler=_cmd_createuser)

    t = commands.add_parser("token", help="API tokens")
    tsub = t.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    tc = tsub.add_parser("create", help="create an API token for a user and print it (shown once)")
    tc.add_argument("username")
    tc.add_argument("--name", default="", help="what the token is for")
    tc.set_defaults(handler=_cmd_token_create)

    w = commands.add_parser("worker", help="run background jobs (takedown rechecks, scans, key rotation)")
    w.add_argument("--batch", action="store_true", help="run the jobs waiting now, then exit")
    w.set_defaults(handler=_cmd_worker)

    mg = commands.add_parser(
        "migrate", help="bring the database up to date (haven serve also does when it starts)"
    )
    mg.set_defaults(handler=_cmd_migrate)

    ix = commands.add_parser("index", help="the matching indexes the server processes share")
    ixsub = ix.add_subparsers(dest="index_command", required=True, metavar="ACTION")
    ixs = ixsub.add_parser(
        "snapshot",
        help="write the indexes as they stand to HAVEN_INDEX_DIR, for every server process to map "
        "(haven serve --workers does this itself)",
    )
    ixs.add_argument("--quiet", action="store_true", help="print nothing")
    ixs.set_defaults(handler=_cmd_index_snapshot)

    d = commands.add_parser(
        "doctor",
        help="check this deployment's settings and surroundings and name each problem (exit 1 if any)",
    )
    d.add_argument("--json", action="store_true", help="print the findings as JSON")
    d.set_defaults(handler=_cmd_doctor)

    r = commands.add_parser(
        "rotate-keys",
        help="queue the job that rewrites encrypted values under the first HAVEN_ENCRYPTION_KEYS key",
    )
    r.set_defaults(handler=_cmd_rotate_keys)

    a = commands.add_parser("audit", help="the audit trail")
    asub = a.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    av = asub.add_parser(
        "verify",
        help="recompute the keyed chain and name the first broken link; with --checkpoints, also prove "
        "that no event up to the latest signed checkpoint was removed or changed",
    )
    av.add_argument(
        "--checkpoints",
        metavar="DIR",
        help="the checkpoint directory (or its checkpoints.jsonl, or a copy of it kept elsewhere)",
    )
    av.add_argument(
        "--public-key",
        action="append",
        default=[],
        metavar="KEY",
        help="verify checkpoint signatures with this public key (from haven audit public-key); repeatable",
    )
    av.set_defaults(handler=_cmd_audit_verify)
    ac = asub.add_parser("checkpoint", help="write a signed checkpoint of the chain head now")
    ac.set_defaults(handler=_cmd_audit_checkpoint)
    ap = asub.add_parser("public-key", help="print the public keys that verify this server's checkpoints")
    ap.set_defaults(handler=_cmd_audit_public_key)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haven",
        description="Haven: support software for centres that help survivors of image-based abuse.",
    )
    parser.add_argument("--version", action="version", version=f"haven {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    h = commands.add_parser(
        "hash",
        help="hash pictures (PDQ, MD5, SHA-256) and print JSON Lines",
        description=(
            "Hash picture files and folders (recursively). One JSON object per file on standard "
            'output: {"path", "pdq", "quality", "md5", "sha256"}, or {"path", "error"}. '
            "Exit status 0 when every file hashed, 1 when any failed."
        ),
    )
    h.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    h.add_argument("--dihedral", action="store_true", help="also print the 8 rotated/flipped PDQ hashes")
    h.add_argument(
        "--jobs", type=_jobs, default=1, metavar="N", help="processes to use (0 = one per CPU core)"
    )
    h.add_argument(
        "--full-resolution",
        action="store_true",
        help="decode every pixel instead of the faster reduced decode (slower; for conformance checks)",
    )
    h.add_argument(
        "--robust",
        action="store_true",
        help='also print the PDQ of fixed crops that survive cropping and framing ("extra")',
    )
    h.set_defaults(handler=_cmd_hash)

    m = commands.add_parser(
        "match",
        help="match pictures against a bank of hashes, robust to crops, framing and small rotations",
        description=(
            "Match picture files and folders against a bank (the JSON Lines output of `haven hash`, "
            'with or without --robust and --dihedral). One JSON object per file: {"path", "matches": '
            '[{"path", "distance", "kind"}]}, or {"path", "error"}. Exit status 0 when every file '
            "was matched, 1 when any failed, 2 when the bank cannot be read."
        ),
    )
    m.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to look up")
    m.add_argument("--bank", required=True, metavar="HASHES.jsonl", help="`haven hash` output")
    m.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="match in N processes (0: one per CPU core); the output order is the same",
    )
    m.set_defaults(handler=_cmd_match)
    _add_scan_command(commands)
    _add_web_commands(commands)
    _add_sharing_commands(commands)
    _add_centre_commands(commands)
    _add_peer_commands(commands)
    _add_transfer_commands(commands)
    _add_report_command(commands)
    _add_backup_commands(commands)
    _add_regimes_command(commands)
    _add_sandbox_commands(commands)
    return parser


def _add_sandbox_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    s = commands.add_parser(
        "sandbox", help="training sandboxes (create one with `haven createorg --sandbox`)"
    )
    sub = s.add_subparsers(dest="sandbox_command", required=True)
    r = sub.add_parser(
        "reset",
        help="delete everything in a sandbox but its staff, audit trail and keys; seed synthetic cases again",
    )
    r.add_argument("slug", help="the sandbox's short name")
    r.set_defaults(handler=_cmd_sandbox_reset)


def _cmd_sandbox_reset(args: argparse.Namespace) -> int:
    from haven.web.training.commands import reset

    return reset(args.slug)


def _add_regimes_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    g = commands.add_parser(
        "regimes",
        help="the legal regimes notices are drafted under: country, recipients, deadline, required elements",
    )
    g.add_argument("--json", action="store_true", help="as JSON, the same as GET /api/v1/regimes")
    g.set_defaults(handler=_cmd_regimes)


def _cmd_regimes(args: argparse.Namespace) -> int:
    from haven.web.core.commands import regimes_list

    return regimes_list(args.json)


def _add_report_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    r = commands.add_parser(
        "report",
        help="anonymised figures: the same tables as the Reports page, as CSV, JSON or PDF",
        description=(
            "Print a report of an organisation's anonymised figures (counts under the threshold "
            "hidden, with enough others that none can be worked out). NAME is one of: acosav-yearly, "
            "gbvims-monthly, takedown-platforms, dsa-trusted-flagger, monitoring, gbvims-pooled (with "
            "the figures peer centres sent; --fetch asks them first). The run is recorded in the "
            "audit trail."
        ),
    )
    r.add_argument("name", metavar="NAME")
    r.add_argument("--org", required=True, help="the organisation's short name")
    r.add_argument("--period", required=True, help="a year (2026), a quarter (2026-Q3) or a month (2026-11)")
    r.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only survivors with this value, such as sex=female or age=18-25 (one filter at a time)",
    )
    r.add_argument("--format", choices=("csv", "json", "pdf"), default="csv")
    r.add_argument(
        "--language",
        choices=("ar", "en", "es", "fr", "ko", "ru", "zh-hans"),
        default="en",
        help="of the labels and the PDF (a PDF in Arabic or Russian is made in English for now)",
    )
    r.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output (a PDF needs one)")
    r.add_argument(
        "--fetch",
        action="store_true",
        help="for gbvims-pooled: first ask every peer centre for its figures of the period",
    )
    r.set_defaults(handler=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from haven.web.core.commands import report

    return report(
        args.name, args.org, args.period, args.filter, args.format, args.language, args.out, fetch=args.fetch
    )


def _cmd_backup(args: argparse.Namespace) -> int:
    from haven.web.core.backup import backup

    return backup(
        args.out, passphrase_file=args.passphrase_file, force=args.force, include_keys=not args.no_keys
    )


def _cmd_restore(args: argparse.Namespace) -> int:
    from haven.web.core.backup import restore

    return restore(
        args.backup,
        passphrase_file=args.passphrase_file,
        keys_dir=args.keys_dir,
        checkpoint_dir=args.checkpoint_dir,
        check=args.check,
    )


_BACKUP_FILE_HELP = (
    "read the passphrase (12 characters or more) from FILE; otherwise from HAVEN_BACKUP_PASSPHRASE_FILE "
    "or HAVEN_BACKUP_PASSPHRASE, or asked for on a terminal"
)


def _add_backup_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    b = commands.add_parser(
        "backup",
        help="write an encrypted backup: the database, the keys and the audit checkpoints",
        description=(
            "Write a consistent, passphrase-encrypted backup of the database (SQLite's online backup, "
            "or pg_dump), the keys the server runs with and the audit checkpoint files to OUT, mode "
            "0600. The server may keep running. See docs/backup.md."
        ),
    )
    b.add_argument("out", metavar="OUT", help="the backup file to write")
    b.add_argument("--passphrase-file", metavar="FILE", help=_BACKUP_FILE_HELP)
    b.add_argument("--force", action="store_true", help="replace OUT if it exists")
    b.add_argument(
        "--no-keys",
        action="store_true",
        help="leave the keys out: the backup then restores only where the same keys are configured",
    )
    b.set_defaults(handler=_cmd_backup)
    r = commands.add_parser(
        "restore",
        help="restore an encrypted backup into an empty database (--check: only verify it)",
        description=(
            "Decrypt BACKUP, check every part against its manifest, and restore it into the configured "
            "database, which must be empty; write its keys and audit checkpoints beside it. Nothing is "
            "changed unless all of it can be restored. Exit status 0 when done (or, with --check, "
            "intact), 1 when refused or not intact, 2 without a usable passphrase."
        ),
    )
    r.add_argument("backup", metavar="BACKUP", help="a file written by haven backup")
    r.add_argument("--passphrase-file", metavar="FILE", help=_BACKUP_FILE_HELP)
    r.add_argument(
        "--check",
        action="store_true",
        help="only decrypt and verify the backup and print what it holds; needs no database",
    )
    r.add_argument(
        "--keys-dir",
        metavar="DIR",
        help="where to write the key files (default: HAVEN_DATA_DIR, where the embedded default reads them)",
    )
    r.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="where to write the audit checkpoint files (default: HAVEN_AUDIT_CHECKPOINT_DIR)",
    )
    r.set_defaults(handler=_cmd_restore)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into e.g. `head`: stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
