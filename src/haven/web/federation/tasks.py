"""Background jobs of federation, run by ``haven worker``: fetching peers' feeds, sending finds."""

from __future__ import annotations

import datetime as dt

from django_tasks import task

SWEEP_EVERY = dt.timedelta(minutes=1)


@task()
def fetch_peer(peer_id: int) -> str:
    from .actions import fetch_peer as fetch

    outcome = fetch(peer_id)
    return outcome.error or f"{outcome.pages} page(s), {outcome.items} item(s)"


@task()
def deliver_finds() -> int:
    from .actions import deliver_finds as deliver

    return deliver().sent


@task()
def sweep() -> int:
    """Fetch every peer whose time has come and send the finds that are due; then queue the next
    sweep once.  A peer's own interval (5 minutes by default) decides when it is due."""
    from haven.web.core.schedule import requeue

    from .actions import deliver_finds as deliver
    from .actions import due_peers
    from .actions import fetch_peer as fetch

    due = due_peers()
    try:
        for peer_id in due:
            fetch(peer_id)  # records its own errors; one peer never stops the others
        deliver()
    finally:
        requeue(sweep, SWEEP_EVERY)
    return len(due)
