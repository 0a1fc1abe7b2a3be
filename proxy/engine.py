"""The engine: identity -> event -> state -> features -> score -> header values, for one request.

One ``Engine`` serves both deployments (standalone proxy and embedded middleware). It owns the
ready objects built once from settings (route table, identity reader, bot gate, store, the active
model) and runs classification under the one fail-open guard of the project: any exception or
an overrun of the time budget forwards the request without ``X-Intent-*`` headers, bumps a counter
by reason and logs a rate-limited line. Nothing here reads settings or the environment.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from classifiers import UNDETERMINED
from classifiers.artifact import Model
from classifiers.kernels import MIN_EVENTS, Scorer
from classifiers.stability import ClassMemory
from explain.headers import SignalsHeader, confidence_value
from explain.headers import warm as warm_signals_value
from proxy.metrics import Metrics
from signals.bots import BotGate
from signals.events import PAGE_KINDS, EventKind, ShopperEvent
from signals.features import FeatureExtractor
from signals.identity import IdentityCodec, IdentityReader, set_cookie_value
from signals.ratelog import RateLimitedLog
from signals.routes import RouteTable
from signals.state import SessionState
from signals.store import PROFILE_PREFIX

if TYPE_CHECKING:
    from explain.governance import Governance
    from proxy.experiments import Experiments
    from proxy.recorder import EventRecorder
    from signals.store import ProfileStore
    from signals.unmatched import UnmatchedRoutes

logger = logging.getLogger(__name__)

# Why a request went unclassified: the value of X-Intent-Skipped (response only, exposed
# headers only). Built once; the bot gate's verdicts map to words here.
SKIP_STATIC = b"static"
SKIP_BOT = {
    "declared-crawler": b"bot: declared crawler", "automation": b"bot: automation user agent",
    "missing-browser-headers": b"bot: no browser headers", "rate": b"bot: too many requests",
}
_PAGE_VIEW = EventKind.PAGE_VIEW


class ActiveModel:
    """Everything that must change together when a model is swapped.

    A request reads ``engine.active`` once and uses that object for the whole classification, so
    a swap (one reference assignment) can never mix two versions. The scratch buffers belong to
    this object: they are filled and read with no ``await`` in between.
    """

    __slots__ = (
        "model", "scorer", "extractor", "x", "version", "version_value", "class_values",
        "undetermined_value", "names", "radius2", "memory", "signals",
    )

    def __init__(
        self, model: Model, switch_margin: float = 0.0, top_signals: int = 3,
        min_events: int = MIN_EVENTS,
    ) -> None:
        self.model = model
        self.version: str = model.version
        self.extractor = FeatureExtractor(model.feature_names, model.transforms)
        self.scorer = Scorer(model, switch_margin, top_signals, min_events=min_events)
        self.memory = ClassMemory()  # each session's class, for the scorer's hysteresis
        self.x: npt.NDArray[np.float64] = np.zeros(len(model.feature_names), dtype=np.float64)
        self.version_value = model.version.encode()
        self.class_values: tuple[bytes, ...] = tuple(s.encode() for s in model.slugs)
        self.undetermined_value = UNDETERMINED.encode()
        self.names: tuple[str, ...] = tuple(model.feature_names)
        self.signals = SignalsHeader(self.names, top_signals)
        self.radius2 = model.radius2


@dataclass(slots=True)
class Decision:
    """What one request's classification produced; consumed when the response starts."""

    session: str
    device: str
    state: SessionState
    event: ShopperEvent | None
    headers: list[tuple[bytes, bytes]]
    set_cookies: list[tuple[bytes, bytes]] = field(default_factory=list)
    slug: str = UNDETERMINED
    active: ActiveModel | None = None  # the model that scored it (observers read its buffers)
    profile: str = ""
    now: float = 0.0
    key: str = ""  # the store key the state lives under (session token or profile key)
    pid: str | None = None  # the profile id from the signed profile cookie, if any
    secure: bool = False
    # What the kernel computed (winner -1: too few events, not scored); governance reads these.
    winner: int = -1
    runner: int = -1
    cls: int = -1  # the class index given (-1: undetermined), and the session's before
    prev_cls: int = -1
    confidence: float = 0.0
    sniff: str | None = None  # the path whose HTML answer the unmatched-routes sample reads
    # Forwarded unclassified after all (over the time budget): no class headers, the reason
    # for X-Intent-Skipped; the cookies and the event stand, so the session is not lost.
    skipped: bytes = b""


class Fetch(NamedTuple):
    """``classify``'s answer when the state lives in a remote store and is not local yet: the
    caller awaits ``Engine.fetch(key)`` (one round trip) and classifies again — or, better,
    calls ``Engine.decide``, which awaits the fetch and resumes where classification stopped
    (route, bot gate and identity are not run twice)."""

    key: str
    resume: tuple[Any, ...] | None = None  # what _classify had worked out, for _finish
    spent_ns: int = 0  # classification time before the fetch (counts against the budget)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Prepared, immutable settings the engine needs (built by ``proxy.app`` from Settings)."""

    header_prefix: bytes = b"x-intent-"
    identify_header: bytes = b"x-intent-identify"
    session_cookie: bytes = b"ig_sid"
    device_cookie: bytes = b"ig_did"
    session_ttl: int = 1800
    device_ttl: int = 400 * 86400
    profile_cookie: bytes = b"ig_pid"
    profile_ttl: int = 30 * 86400
    min_events: int = 3
    budget_ns: int = 2_000_000
    top_signals: int = 3
    class_switch_margin: float = 0.0
    half_life: float = 600.0
    expose_headers: bool = False
    trusted_hops: frozenset[str] = frozenset()  # clients whose X-Forwarded-Proto is believed


class Engine:
    """Classifies requests; see the module docstring."""

    def __init__(
        self,
        *,
        options: EngineOptions,
        routes: RouteTable,
        codec: IdentityCodec,
        reader: IdentityReader,
        bots: BotGate,
        store: ProfileStore,
        metrics: Metrics,
        recorder: EventRecorder | None = None,
        observer: Governance | None = None,
        experiments: Experiments | None = None,
        unmatched: UnmatchedRoutes | None = None,
        clock: Any = time.time,
    ) -> None:
        self.options = options
        self.routes = routes
        self.codec = codec
        self.reader = reader
        self.bots = bots
        self.store = store
        self.metrics = metrics
        self.recorder = recorder
        self.clock = clock
        # The model being served: the one truth (ModelRegistry.active reads it from here).
        self.active: ActiveModel | None = None
        # Given each scored decision (explain.governance.Governance.submit); None: nothing to do.
        self.observer = observer
        # Holdout groups and outcome counting; None: off.
        self.experiments = experiments
        # Requests no rule decides (None: not sampled).
        self.unmatched = unmatched
        self._log = RateLimitedLog(logger)
        # Why the last ``classify`` returned None; read by the caller before any await.
        self.skipped: bytes = b""
        # Hoisted once (as uvicorn's access_log flag): no per-request logging cost when off.
        self._debug = logger.isEnabledFor(logging.DEBUG)
        p = options.header_prefix.decode()
        # Header names prebuilt once, in the contract's canonical casing.
        self.h_class = (p + "Class").lower().encode()
        self.h_confidence = (p + "Confidence").lower().encode()
        self.h_signals = (p + "Signals").lower().encode()
        self.h_model = (p + "Model").lower().encode()
        self.h_profile = (p + "Profile").lower().encode()
        self.h_skipped = (p + "Skipped").lower().encode()
        # Set-Cookie values prebuilt around the token (names encoded once, here; the call
        # validates the names and settings once).
        self._cookie_parts = {
            name: tuple((name + b"=",
                         set_cookie_value(name.decode(), "v", ttl, sec)[len(name) + 2:])
                        for sec in (False, True))
            for name, ttl in ((options.session_cookie, options.session_ttl),
                              (options.device_cookie, options.device_ttl))
        }
        # Device -> profile pseudonym (a keyed hash per request otherwise); bounded, cleared
        # when full.
        self._pseudonyms: dict[str, str] = {}

    # -- model lifecycle -------------------------------------------------------------------

    @property
    def serving(self) -> Model | None:
        """The model requests are scored with now (None before the first activation)."""
        active = self.active
        return active.model if active is not None else None

    def activate(self, model: Model) -> ActiveModel:
        """Build and warm everything for ``model``, then swap it in with one assignment."""
        opts = self.options
        active = ActiveModel(model, opts.class_switch_margin, opts.top_signals, opts.min_events)
        active.scorer.warm()
        active.extractor.warm()
        warm_signals_value()
        self.active = active
        logger.info("model %s active (%d classes)", model.version, len(model.slugs))
        return active

    # -- the request path -----------------------------------------------------------------

    def fail_open(self, reason: str, detail: object) -> None:
        self.skipped = b"fail-open: " + reason.encode()
        self.metrics.fail_open[reason] += 1
        self._log.warning("classification skipped (%s): %s", reason, detail, key=reason)

    def classify(
        self,
        method: str,
        path: str,
        query_string: bytes,
        cookie_values: list[bytes],
        user_agent: bytes | None,
        has_accept: bool,
        has_accept_language: bool,
        secure: bool,
        fetched: bool = False,
    ) -> Decision | Fetch | None:
        """The guarded classification of one request; ``None`` means forward unclassified,
        ``Fetch`` means await ``fetch`` and call again with ``fetched=True``."""
        t0 = time.perf_counter_ns()
        try:
            decision = self._classify(
                method, path, query_string, cookie_values, user_agent, has_accept,
                has_accept_language, secure, fetched,
            )
        except Exception as exc:  # the one fail-open point of the project
            self.fail_open("error", repr(exc))
            return None
        if isinstance(decision, Fetch):
            return decision._replace(spent_ns=time.perf_counter_ns() - t0)
        return self._checked(decision, time.perf_counter_ns() - t0)

    async def decide(
        self, method: str, path: str, query_string: bytes, cookie_values: list[bytes],
        user_agent: bytes | None, has_accept: bool, has_accept_language: bool, secure: bool,
    ) -> Decision | None:
        """The one entry point of the request path: classify, awaiting the one store round
        trip inside when the shopper's state is not local; ``None``: forward unclassified."""
        decision = self.classify(method, path, query_string, cookie_values, user_agent,
                                 has_accept, has_accept_language, secure)
        if not isinstance(decision, Fetch):
            return decision
        fetch = decision
        await self.fetch(fetch.key)
        t0 = time.perf_counter_ns()
        try:
            resumed = self._finish(*fetch.resume)  # type: ignore[misc]
        except Exception as exc:
            self.fail_open("error", repr(exc))
            return None
        return self._checked(resumed, time.perf_counter_ns() - t0 + fetch.spent_ns)

    def _checked(self, decision: Decision | None, elapsed: int) -> Decision | None:
        """Budget check, latency metric and observers for a finished classification."""
        if elapsed > self.options.budget_ns:
            self.fail_open("budget", f"{elapsed / 1e3:.0f} us > budget")
            if decision is None:
                return None
            # Too late for a class, not for the shopper: the event is in the state and the
            # cookies name it, so they still go out (a first request over budget would
            # otherwise start a new session on every retry). No class headers either way.
            active = decision.active
            if active is not None and decision.cls != decision.prev_cls:
                active.memory.restore(decision.key, decision.cls, decision.prev_cls)
            decision.headers = []
            decision.active = None
            decision.skipped = self.skipped
            return decision
        self.metrics.classify_latency.observe(elapsed * 1e-9)
        if decision is not None and decision.active is not None:
            # Counted once the class is sure to go out (not over the budget).
            self.metrics.requests_by_class[decision.slug] += 1
        if self.experiments is not None and isinstance(decision, Decision):
            # After the budget check: a request forwarded unclassified is not counted either.
            self.experiments.on_decision(decision)
        # Typed loosely here only: it is handed a plain tuple in the field order of
        # explain.governance.Observation, cheaper to build than the NamedTuple itself.
        observer: Any = self.observer
        if observer is not None and decision.__class__ is Decision:
            d: Decision = decision
            active = d.active
            if active is not None:
                # Governance (journal, live mix, drift, shadow, audit) leaves the request path:
                # one tuple onto its bounded queue (explain.governance), copies of this
                # request's buffers when it was scored (not the distances: no bookkeeping
                # reads them, and a copy is ~0.4 µs).
                if d.winner >= 0:
                    sc = active.scorer
                    observer.submit((
                        d.session, d.profile, d.now, d.event, d.slug, d.state, d.state.v[:],
                        active.model, active.names, d.winner, d.runner, d.confidence,
                        active.x.copy(), None, sc.contrib.copy(), sc.evidence.copy()))
                else:
                    observer.submit((
                        d.session, d.profile, d.now, d.event, d.slug, d.state, d.state.v[:],
                        active.model, active.names, -1, d.runner, d.confidence, None, None,
                        None, None))
        return decision

    def _classify(
        self, method: str, path: str, query_string: bytes, cookie_values: list[bytes],
        user_agent: bytes | None, has_accept: bool, has_accept_language: bool, secure: bool,
        fetched: bool = False,
    ) -> Decision | Fetch | None:
        """``classify`` without the guard and the clock (its arguments are the same)."""
        self.skipped = b""
        now = self.clock()
        event = self.routes.match(method, path, query_string, now)
        if event is None and self.routes.is_ignored(path):
            self.skipped = SKIP_STATIC
            return None  # static assets, health checks: no event, no headers, no cookies
        bot = self.bots.verdict(user_agent, has_accept, has_accept_language)
        if bot is not None:
            self.metrics.bots[bot] += 1
            self.skipped = SKIP_BOT.get(bot, b"bot")
            return None
        unmatched = self.unmatched
        sniff = None
        if unmatched is not None and (event is None or event.kind is _PAGE_VIEW):
            # A counter; sometimes an append; rarely (sniffing on) a request for its HTML.
            if unmatched.offer(method, path, query_string, now):
                sniff = path
        ident = self.reader.read(cookie_values)
        opts = self.options
        set_cookies: list[tuple[bytes, bytes]] = []
        session = ident.session
        if session is None or event is not None:
            if session is None:
                session = self.codec.new_token()
            # New, or sliding idle expiry: refresh the cookie when the shopper does something.
            head, tail = self._cookie_parts[opts.session_cookie][secure]
            set_cookies.append((b"set-cookie", head + session.encode() + tail))
        device = ident.device
        if device is None:
            device = self.codec.new_token()
            head, tail = self._cookie_parts[opts.device_cookie][secure]
            set_cookies.append((b"set-cookie", head + device.encode() + tail))
        # A shopper the origin has named carries the profile id in a signed cookie: their state
        # is the profile's, shared by all their devices; otherwise the session's.
        pid = ident.profile[:22] if ident.profile is not None else None
        key = PROFILE_PREFIX + pid if pid is not None else session
        store = self.store
        state = store.get(key, now)
        if state is None:
            if store.remote and not fetched and (pid is not None or ident.session is not None):
                return Fetch(key, (now, event, session, device, set_cookies, pid, key, secure))
            state = store.create(key, now)
        decision = self._finish(now, event, session, device, set_cookies, pid, key, secure, state)
        if sniff is not None and decision is not None:
            decision.sniff = sniff
        return decision

    def _finish(
        self, now: float, event: ShopperEvent | None, session: str, device: str,
        set_cookies: list[tuple[bytes, bytes]], pid: str | None, key: str, secure: bool,
        state: SessionState | None = None,
    ) -> Decision | None:
        """Classification from the state lookup on (after the store fetch, when one was
        needed)."""
        store = self.store
        if state is None:
            state = store.get(key, now)
            if state is None:
                state = store.create(key, now)
        if self.bots.too_fast(state.touch(now)):
            self.metrics.bots["rate"] += 1
            self.skipped = SKIP_BOT["rate"]
            return None
        if event is not None:
            state.apply(event)
            store.changed(key)
            self.metrics.events[event.kind.slug] += 1
            if self._debug:
                logger.debug("event %s session=%s product=%s category=%s query=%s",
                             event.kind.slug, self.codec.pseudonym("s:" + session),
                             event.product, event.category, event.query)
        if pid is not None:
            profile = pid
        else:
            pseudonyms = self._pseudonyms
            profile = pseudonyms.get(device)  # type: ignore[assignment]
            if profile is None:
                profile = self.codec.pseudonym("d:" + device)
                if len(pseudonyms) >= 16384:
                    pseudonyms.clear()
                pseudonyms[device] = profile
        decision = Decision(session, device, state, event, [], set_cookies, key=key, pid=pid,
                            secure=secure)
        active = self.active
        if active is None:
            return decision
        self._score(active, decision, state, now, profile)
        decision.active = active
        decision.profile = profile
        decision.now = now
        return decision

    def _score(
        self, active: ActiveModel, decision: Decision, state: SessionState, now: float,
        profile: str,
    ) -> None:
        headers = decision.headers
        events = state.events_seen
        if not active.scorer.scores(events):  # the rule's first step: no features needed
            headers.append((self.h_class, active.undetermined_value))
            headers.append((self.h_confidence, b"0.00"))
        else:
            active.extractor.extract(state, now, active.x)
            prev = active.memory.get(decision.key)
            cls, runner, confidence, key = active.scorer.label(events, active.x, prev)
            decision.prev_cls = prev
            decision.cls = cls
            # Governance reads winner >= 0 as "scored": the class given, else the nearest.
            decision.winner = cls if cls >= 0 else int(active.scorer.d2.argmin())
            decision.runner = runner
            if cls != prev:
                active.memory.set(decision.key, cls)
            if cls < 0:
                headers.append((self.h_class, active.undetermined_value))
                headers.append((self.h_confidence, b"0.00"))
            else:
                decision.slug = active.model.slugs[cls]
                decision.confidence = confidence
                headers.append((self.h_class, active.class_values[cls]))
                headers.append((self.h_confidence, confidence_value(confidence)))
                value = active.signals(key, active.scorer.evidence)
                if value:
                    headers.append((self.h_signals, value))
        headers.append((self.h_model, active.version_value))
        headers.append((self.h_profile, profile.encode()))

    def on_response(
        self, decision: Decision | None, status: int, identify: bytes | None,
        order_value: bytes | None = None,
    ) -> None:
        """Response side: undo the event of a page that did not exist or redirected; count an
        outcome (with the origin's order value); accept an identify."""
        if decision is None:
            return
        if self.experiments is not None and decision.active is not None:
            self.experiments.on_response(decision, status, order_value)
        # 4xx/5xx: the page did not exist. 3xx: a redirect is not a page the shopper saw (the
        # page it leads to counts); actions (cart add, checkout POST...) count on 2xx and 3xx.
        if decision.event is not None and (
                status >= 400 or (status >= 300 and decision.event.kind in PAGE_KINDS)):
            decision.state.revert(decision.event)
            self.store.changed(decision.key)
            self.metrics.reverted_events += 1
            if self.observer is not None:  # the merchandiser's timeline marks it undone
                self.observer.reverted(decision.session, decision.event)
            # The event is undone, so is the class change it caused (journal, audit, memory).
            if decision.cls != decision.prev_cls and decision.active is not None:
                decision.active.memory.restore(decision.key, decision.cls, decision.prev_cls)
                if self.observer is not None:
                    self.observer.undo(decision, status)
        elif decision.event is not None and self.recorder is not None:
            self.recorder.record(decision.session, decision.event)
        if identify is not None:
            self.identify(decision, identify)

    async def fetch(self, key: str) -> None:
        """The one store round trip a request may wait for (the store never raises)."""
        self.metrics.store_fetches += 1
        t0 = time.perf_counter()
        await self.store.fetch(key)
        self.metrics.store_wait.observe(time.perf_counter() - t0)

    def identify(self, decision: Decision, identify: bytes) -> None:
        """The origin named the shopper (``-``: logged out). The device's session is merged
        into the shopper's profile once per session (a repeated identify changes nothing), the
        device is linked, and the profile id goes into a signed cookie so later requests, from
        any process, need no lookup to find it."""
        now = self.clock()
        value = identify.decode("latin-1").strip()
        self.metrics.identifies += 1
        opts = self.options
        name = opts.profile_cookie.decode()
        if value == "-" or not value:
            self.store.unlink(decision.device)
            if decision.pid is not None:
                decision.set_cookies.append(
                    (b"set-cookie", set_cookie_value(name, "", 0, decision.secure)))
            return
        pid = self.codec.pseudonym("u:" + value)
        if decision.pid == pid:
            return  # already this shopper's profile
        session = decision.session
        contribution = (decision.state if decision.key == session
                        else self.store.get(session, now))
        merge_id = self.codec.pseudonym("m:" + session + ":" + pid)
        self.store.merge(PROFILE_PREFIX + pid, merge_id, contribution, decision.device, now)
        if self.observer is not None:  # the session's journal now belongs to the profile
            self.observer.identified(decision.session, pid)
        decision.set_cookies.append(
            (b"set-cookie", set_cookie_value(name, self.codec.token_for(pid), opts.profile_ttl,
                                             decision.secure)))

    def apply_beacon(self, cookie_values: list[bytes], event: ShopperEvent) -> str:
        """Apply a client beacon to the session named by the signed cookie (never by the
        payload, so a beacon cannot write into another shopper's session). Returns the outcome:
        ``accepted``, ``no_session`` or ``rate_limited``."""
        ident = self.reader.read(cookie_values)
        if ident.session is None:
            return "no_session"
        key = PROFILE_PREFIX + ident.profile[:22] if ident.profile is not None else ident.session
        state = self.store.get(key, event.ts)
        if state is None:
            return "no_session"
        # Beacons share the session's request-rate meter with page views (bot gate ceiling).
        if self.bots.too_fast(state.touch(event.ts)):
            return "rate_limited"
        state.apply(event)
        self.store.changed(key)
        self.metrics.events[EventKind(event.kind).slug] += 1
        return "accepted"
