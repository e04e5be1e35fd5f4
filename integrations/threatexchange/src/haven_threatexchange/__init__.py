"""A python-threatexchange extension for the native sharing feed of a Haven centre.

Add it to the ``threatexchange`` CLI with ``threatexchange config extensions add
haven_threatexchange``, or list it among HMA's extensions; see README.md.
"""

from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest

from haven_threatexchange.client import (
    FeedbackValue,
    HavenError,
    HavenHTTPError,
    HavenKeyMissingError,
    HavenResponseError,
    HavenSharingClient,
    OpinionReport,
    SubmittedHash,
)
from haven_threatexchange.exchange import (
    HavenCheckpoint,
    HavenCredentials,
    HavenFeedback,
    HavenFeedbackKeyMissing,
    HavenSignalExchangeAPI,
    HavenSignalMetadata,
)

__all__ = [
    "TX_MANIFEST",
    "FeedbackValue",
    "HavenCheckpoint",
    "HavenCredentials",
    "HavenError",
    "HavenFeedback",
    "HavenFeedbackKeyMissing",
    "HavenHTTPError",
    "HavenKeyMissingError",
    "HavenResponseError",
    "HavenSharingClient",
    "HavenSignalExchangeAPI",
    "HavenSignalMetadata",
    "OpinionReport",
    "SubmittedHash",
]

# PdqSignal and VideoMD5Signal are pytx's own; vPDQ comes from pytx's vpdq extension when the
# platform adds it, so the manifest brings no signal types of its own.
TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(HavenSignalExchangeAPI,))
