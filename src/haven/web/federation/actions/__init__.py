"""Every write in federation, by sub-domain: peers and their fetches, finds both ways, case
transfers, and the signed files of the offline exchange.  The public names are here; the modules
(``actions.transfers``, ``actions.offline``) hold the rest."""

from . import finds, offline, peers, transfers
from .finds import (
    DeliveryOutcome,
    Find,
    ReportedFind,
    accept_find,
    deliver_finds,
    dismiss_find,
    receive_finds,
    record_finds,
)
from .peers import KEYS_CONTEXT, FetchOutcome, add_peer, due_peers, fetch_peer, peer_keys, remove_peer

__all__ = [
    "KEYS_CONTEXT",
    "DeliveryOutcome",
    "FetchOutcome",
    "Find",
    "ReportedFind",
    "accept_find",
    "add_peer",
    "deliver_finds",
    "dismiss_find",
    "due_peers",
    "fetch_peer",
    "finds",
    "offline",
    "peer_keys",
    "peers",
    "receive_finds",
    "record_finds",
    "remove_peer",
    "transfers",
]
