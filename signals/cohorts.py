"""Holdout cohorts: which shoppers an experiment leaves unpersonalized, by a keyed hash.

Pure: no clock, no I/O. A shopper's group is ``blake2b(stable id, key=K)`` read as a 64-bit
number and compared with ``share · 2⁶⁴``; ``K`` is derived from the proxy's secret and the
experiment's salt, so every process that shares the secret assigns alike (restarts and instances
agree) and a new salt reshuffles everyone. One hash costs about 0.4 µs; the engine computes it
once per session, not per request (``signals.outcomes.OutcomeBook`` remembers the group).
"""

from __future__ import annotations

import hashlib
import hmac

TREATMENT = "treatment"
HOLDOUT = "holdout"
GROUPS = (TREATMENT, HOLDOUT)  # index = the ``holdout`` flag as an int


class Cohorts:
    """Assigns a stable id (profile pseudonym or device token) to ``treatment`` or ``holdout``.

    ``share`` is the holdout share within 0..1 (0: everyone in treatment).
    """

    __slots__ = ("name", "salt", "share", "_key", "_threshold")

    def __init__(self, name: str, secret: bytes, share: float, salt: str | None = None) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"holdout share must be within 0..1, got {share!r}")
        if not name:
            raise ValueError("an experiment needs a name")
        self.name = name
        self.salt = salt if salt is not None else name
        self.share = share
        self._key = hmac.new(secret, b"cohort:" + self.salt.encode(), hashlib.sha256).digest()
        self._threshold = int(share * 2.0**64)

    def is_holdout(self, stable_id: str) -> bool:
        h = hashlib.blake2b(stable_id.encode(), digest_size=8, key=self._key).digest()
        return int.from_bytes(h, "big") < self._threshold

    def group(self, stable_id: str) -> str:
        return GROUPS[self.is_holdout(stable_id)]
