"""Governance bookkeeping behind a bounded queue: the session journal, the live class mix, drift,
the shadow model and the audit log, fed with plain values.

The request path calls ``Governance.submit`` with one small tuple (``Observation``: what the
engine computed — winner, runner-up, confidence, and copies of the vector, the distances and the
attribution when the session was scored). ``submit`` appends it to a bounded deque and never
waits; what does not fit is dropped and counted. One task drains the queue in batches a few
milliseconds later, so a request never runs the bookkeeping. Readers (the admin API) call
``drain`` first, so what they answer includes everything submitted before them.

The shadow model and the raw values of an audit record read the session's numbers as the
request left them (``Observation.v`` is a copy of the state's value array, one C-level copy).

Nothing here imports ``proxy``: values arrive as numbers, strings, the model and the state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from classifiers import UNDETERMINED
from classifiers.artifact import Model
from classifiers.kernels import MIN_EVENTS
from explain.audit import AuditLog, AuditRecord
from explain.drift import DriftMonitor
from explain.explanation import (
    Change,
    SessionJournal,
    evidence_shares,
    in_words,
)
from explain.live import LiveMix
from explain.shadow import Shadow
from signals.background import stop
from signals.events import ShopperEvent
from signals.features import raw_value
from signals.ratelog import RateLimitedLog
from signals.state import SessionState

logger = logging.getLogger(__name__)

DRAIN_INTERVAL_S = 0.02
BATCH = 2048
# Records booked between two yields to the event loop: a slice takes well under a millisecond,
# so a request that arrives while the queue drains waits for one slice, not for the whole queue.
SLICE = 32


class Observation(NamedTuple):
    """One scored decision as the request path hands it over (a plain tuple at run time).

    ``winner`` is -1 when the session had too few events to be scored; then ``x``, ``d2`` and
    ``contrib`` are ``None``."""

    session: str
    profile: str
    now: float
    event: ShopperEvent | None
    slug: str
    state: SessionState
    v: Any  # a copy of ``state.v`` (the numbers) as they were when the request was scored
    model: Model
    names: tuple[str, ...]
    winner: int
    runner: int
    confidence: float
    x: npt.NDArray[np.float64] | None
    d2: npt.NDArray[np.float64] | None  # the engine sends None: no bookkeeping reads it
    contrib: npt.NDArray[np.float64] | None
    evidence: npt.NDArray[np.float64] | None = None  # per signal: pull toward the class given


class Undo(NamedTuple):
    """An event undone by the origin's 4xx/5xx answer, queued behind the decision it undoes:
    the journal loses the event and the class change to ``slug`` made at ``now``, and the audit
    log gets a record that says so."""

    session: str
    profile: str
    now: float
    event: ShopperEvent | None
    slug: str
    model: str
    names: tuple[str, ...]
    status: int


class Governance:
    """The queue, its drain task, and the per-decision bookkeeping (see the module docstring).

    ``sink`` (optional) receives every drained batch too: the shared admin state of the Redis
    store writes it behind to Redis (``explain.shared``)."""

    def __init__(
        self, *, pseudonym: Callable[[str], str], min_events: int = MIN_EVENTS,
        audit: AuditLog | None = None, journal: SessionJournal | None = None,
        live: LiveMix | None = None, clock: Callable[[], float] = time.time,
        capacity: int = 20_000, interval: float = DRAIN_INTERVAL_S,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.pseudonym = pseudonym
        self.min_events = min_events
        self.audit = audit
        self.journal = journal if journal is not None else SessionJournal()
        self.live = live if live is not None else LiveMix()
        self.clock = clock
        self.capacity = capacity
        self.interval = interval
        self.drift: DriftMonitor | None = None
        self.shadow: Shadow | None = None
        self.sink: Any = None  # called with each drained batch of (Observation, changed, Change)
        self.errors = 0
        self.dropped = 0
        self.submitted = 0
        self.booked = 0
        self._queue: deque[Observation | Undo] = deque()
        self._armed = False
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._version: str | None = None
        self._log = RateLimitedLog(logger)

    # -- the request path ------------------------------------------------------------------

    def submit(self, record: Observation | Undo) -> None:
        """Queue one decision; never waits, never raises. A full queue drops and counts it."""
        queue = self._queue
        if len(queue) >= self.capacity:
            self.dropped += 1
            return
        queue.append(record)
        if not self._armed:
            self._armed = True
            wake = self._wake
            if wake is not None:
                wake.set()
            else:
                self.start()

    # -- the drain task --------------------------------------------------------------------

    def start(self) -> asyncio.Task[None] | None:
        """Start the drain task on the running loop (no-op without a loop or when running)."""
        if self._task is not None and not self._task.done():
            return self._task
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None  # no loop (a synchronous caller): ``drain`` is called by readers
        self._wake = asyncio.Event()
        self._task = loop.create_task(self._run(), name="intentgate-governance")
        if self._queue:
            self._wake.set()
        return self._task

    async def _run(self) -> None:
        wake = self._wake
        if wake is None:
            return
        while True:
            await wake.wait()
            await asyncio.sleep(self.interval)  # gather a batch
            wake.clear()
            self._armed = False
            while self.drain(SLICE) == SLICE:
                await asyncio.sleep(0)  # the requests that arrived meanwhile go first
            if self._queue:  # queued during the last slice: come back at once
                self._armed = True
                wake.set()

    def drain(self, limit: int = BATCH * 64) -> int:
        """Book what is queued (at most ``limit``); returns how many were booked."""
        queue = self._queue
        done = 0
        shared: list[tuple[Observation, Change | None]] | None = (
            [] if self.sink is not None else None)
        while queue and done < limit:
            rec = queue.popleft()
            done += 1
            try:
                change = self._book(rec)
            except Exception as exc:  # contained: counted, logged at most every 10 s
                self.errors += 1
                self._log.error("governance bookkeeping failed: %r", exc)
                continue
            if shared is not None and not isinstance(rec, Undo):
                shared.append((rec, change))
        self.booked += done
        if self._task is None:
            self._armed = False  # no drain task (no loop yet): the next submit tries to start it
        if shared:
            try:
                self.sink(shared)
            except Exception as exc:
                self.errors += 1
                logger.error("shared governance state failed: %r", exc)
        return done

    def stats(self) -> dict[str, float]:
        return {"depth": float(len(self._queue)), "dropped": float(self.dropped),
                "booked": float(self.booked), "errors": float(self.errors)}

    # -- response-side notes (rare: an identify, a failed page) -----------------------------

    def identified(self, session: str, profile: str) -> None:
        """The shop named the shopper: the session's journal belongs to ``profile`` from now
        on, so a lookup shows the profile's class at once; never raises. What is queued is
        booked first, so the note lands after the decision it follows."""
        try:
            self.drain()
            j = self.journal.get(session)
            if j is not None:
                self.journal.entry(session, j.pseudonym, profile)
        except Exception:
            self.errors += 1

    def reverted(self, session: str, event: ShopperEvent | None) -> None:
        """The page answered 4xx/5xx and its event was undone; never raises."""
        try:
            if event is not None:
                self.drain()
                self.journal.mark_undone(session, event.ts)
        except Exception:
            self.errors += 1

    # -- bookkeeping -----------------------------------------------------------------------

    def _reset(self, model: Model) -> None:
        self._version = model.version
        self.drift = DriftMonitor(model, bucket_s=self.live.bucket_s, buckets=self.live.buckets)

    def undo(self, decision: Any, status: int) -> None:
        """Queue the undo of ``decision``'s event and class change (request path: never waits;
        ``decision`` is the engine's ``Decision``)."""
        active = decision.active
        self.submit(Undo(decision.session, decision.profile, decision.now,
                         decision.event, decision.slug,
                         active.version if active is not None else "",
                         active.names if active is not None else (), status))

    def _undo(self, rec: Undo) -> None:
        j = self.journal.get(rec.session)
        if j is None:
            return
        changed, previous = self.journal.undo(j, rec.now, rec.slug, rec.event)
        if changed and self.audit is not None:
            d = len(rec.names)
            self.audit.submit(AuditRecord(
                ts=rec.now, session=j.pseudonym, profile=rec.profile, model=rec.model,
                cls=previous or UNDETERMINED, confidence=0.0, previous=rec.slug,
                event=rec.event.kind.slug if rec.event is not None else None,
                signals=rec.names, contributions=[0.0] * d, raw=[0.0] * d, x=[0.0] * d,
                note=f"undone: the origin answered {rec.status}; the event and the class "
                     f"change to {rec.slug} it caused do not count",
            ))

    def _book(self, rec: Observation | Undo) -> Change | None:
        if isinstance(rec, Undo):
            self._undo(rec)
            return None
        (session, profile, now, event, slug, live_state, v, model, names, winner, runner,
         confidence, x, d2, contrib, *rest) = rec
        evidence = rest[0] if rest else None
        journal = self.journal
        j = journal.get(session)
        j = journal.entry(session, j.pseudonym if j else self.pseudonym("s:" + session), profile)
        if event is not None:
            journal.add_event(j, event)
        if model.version != self._version:
            self._reset(model)
        self.live.add(slug, now)
        scored = winner >= 0 and x is not None
        if scored and self.drift is not None:
            self.drift.observe(x, now)  # type: ignore[arg-type]
        shadow = self.shadow
        j.decisions += 1
        previous = j.last_class
        changed = slug != previous and not (previous is None and slug == UNDETERMINED)
        j.last_class = slug
        audit = self.audit
        record = audit is not None and audit.policy.should_record(j.pseudonym, j.decisions,
                                                                  changed)
        if shadow is None and not changed and not record:
            return None  # most decisions: the state as the request saw it is not needed
        # The state as the request saw it: its numbers copied then, its product rings shared.
        state = SessionState.__new__(SessionState)
        state.v, state.config = v, live_state.config
        state.products, state.categories = live_state.products, live_state.categories
        if shadow is not None:
            shadow.observe(state, now, slug)
        if not changed and not record:
            return None
        shares: tuple[tuple[str, float], ...] = ()
        conf = 0.0
        if scored and slug != UNDETERMINED and evidence is not None:
            conf = confidence
            shares = evidence_shares(evidence, names)
        raw = [raw_value(state, n, now) for n in names]
        change = None
        if changed:
            minutes = raw_value(state, "session_minutes", now)
            position = {n: i for i, n in enumerate(names)}
            words = tuple(in_words(n, raw[position[n]], minutes) for n, _ in shares)
            change = Change(now, slug, previous, conf, model.version, shares, words)
            j.changes.append(change)
        if record and audit is not None:
            d = len(names)
            audit.submit(AuditRecord(
                ts=now, session=j.pseudonym, profile=profile, model=model.version, cls=slug,
                confidence=conf, previous=previous,
                event=event.kind.slug if event is not None else None,
                signals=names,
                contributions=contrib.tolist() if scored and contrib is not None else [0.0] * d,
                raw=raw, x=x.tolist() if scored and x is not None else [0.0] * d,
                evidence=evidence.tolist() if scored and evidence is not None else None,
            ))
        return change

    # -- shadow ----------------------------------------------------------------------------

    def start_shadow(self, candidate: Model, now: float) -> Shadow:
        shadow = Shadow(candidate, min_events=self.min_events, started_at=now)
        shadow.warm()  # compile before it meets a request
        self.drain()  # decisions made before the shadow started are not counted by it
        self.shadow = shadow
        return shadow

    def stop_shadow(self) -> bool:
        had = self.shadow is not None
        self.shadow = None
        return had

    async def aclose(self) -> None:
        self.drain()
        task, self._task = self._task, None
        await stop(task)
        if self.audit is not None:
            await self.audit.aclose()
