"""Outcome counters shared by every proxy process: an ``OutcomeBook``'s pending increments ride
the Redis store's write-behind pipeline (``RedisStore.add_rider``), so counting adds no round trip
to any request.

One hash per experiment, ``P:{exp:<name>}:c`` (one Cluster slot through the hash tag), one field
per ``model|class|group|metric``. Increments are ``HINCRBY`` (``HINCRBYFLOAT`` for revenue):
atomic on the server, so any number of processes add to the same fields and the totals are their
sum. A push whose pipeline fails is handed back to the book and sent with a later flush; a reply
lost after Redis applied it would be counted twice (at-least-once, like the flusher's deltas).
"""

from __future__ import annotations

from typing import Any

from signals.outcomes import OutcomeBook

COUNTER_TTL = 400 * 86400  # an experiment's counters outlive any sensible experiment


def counters_key(prefix: str, experiment: str) -> str:
    return f"{prefix}:{{exp:{experiment}}}:c"


class RedisCounters:
    """The rider: drains ``book.pending`` into a pipeline and settles with the replies."""

    def __init__(self, book: OutcomeBook, key: str, ttl: int = COUNTER_TTL) -> None:
        self.book = book
        self.key = key
        self.ttl = ttl

    def pending(self) -> bool:
        return bool(self.book.pending)

    def drain(self, pipe: Any) -> tuple[int, Any]:
        """Queue the increments on ``pipe``; returns (commands queued, token for ``settle``)."""
        taken = self.book.take_pending()
        names: list[str] = []
        for name, amount in taken.items():
            if name.endswith("|revenue"):
                pipe.hincrbyfloat(self.key, name, float(amount))
            elif amount:
                pipe.hincrby(self.key, name, int(amount))
            else:
                continue  # +1 -1 within one interval: nothing to send
            names.append(name)
        pipe.expire(self.key, self.ttl)
        return len(names) + 1, (taken, names)

    def settle(self, token: Any, results: list[Any] | None) -> None:
        """``results``: the replies of this rider's commands, or None when the pipeline failed."""
        taken, names = token
        if results is None:
            self.book.restore(taken)
            return
        failed = {n: taken[n] for n, r in zip(names, results, strict=False)
                  if isinstance(r, Exception)}
        if failed:
            self.book.restore(failed)


async def read_counters(client: Any, key: str) -> dict[str, float]:
    """The shared totals (admin side, never on the request path)."""
    raw = await client.hgetall(key)
    out: dict[str, float] = {}
    for k, v in raw.items():
        name = k.decode() if isinstance(k, bytes) else str(k)
        out[name] = float(v)
    return out
