"""Holdout experiments: group assignment and headers, outcome counting, and the lift report API.

``Experiments`` is the engine's hook (``engine.experiments``): ``on_decision`` runs on the request
path after scoring (a dict lookup per request; one keyed hash when a session is first seen) and
appends ``X-Intent-Group`` and ``X-Intent-Experiment``; ``on_response`` counts an outcome the
origin confirmed (status below 400) and reads the order value. The admin side starts, stops and
reports experiments (``api/experiments``), and audits starts and stops.

Which id decides the group: the profile pseudonym when the shopper is identified, otherwise the
device token; and the group a session got at its first request is kept for the whole session, so
a shopper never changes group at login (docs/experiments.md discusses the one case where a
device's *later* sessions move: a device assigned anonymously whose profile hashes the other way).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classifiers import UNDETERMINED
from explain.lift import report
from proxy.admin.surface import HTTPError, read_body
from signals.cohorts import GROUPS, Cohorts
from signals.events import EventKind
from signals.outcomes import METRICS, OUTCOME_BITS, OutcomeBook, rows
from signals.redis_store import RedisStore

if TYPE_CHECKING:
    from explain.audit import AuditLog
    from proxy.admin.surface import AdminApp
    from proxy.app import Runtime
    from proxy.config import Settings
    from proxy.engine import Decision
    from proxy.types import Receive, Scope
    from signals.store import ProfileStore

logger = logging.getLogger(__name__)

_IS_OUTCOME = tuple(EventKind(k) in OUTCOME_BITS for k in range(len(EventKind)))
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")
MAX_ORDER_VALUE = 1e9
Result = tuple[int, Any, Any]


def check_name(name: str) -> str:
    if not 1 <= len(name) <= 64 or not set(name) <= _NAME_CHARS or name[0] in "-_.":
        raise ValueError("experiment names are 1..64 of a-z 0-9 - _ . (starting with a letter "
                         "or digit)")
    return name


class Experiment:
    """One running experiment: its cohorts, its outcome book, its header values."""

    __slots__ = ("name", "cohorts", "book", "started_at", "header_values", "name_header")

    def __init__(self, name: str, cohorts: Cohorts, book: OutcomeBook, started_at: float,
                 h_group: bytes, h_experiment: bytes) -> None:
        self.name = name
        self.cohorts = cohorts
        self.book = book
        self.started_at = started_at
        # Header tuples built once: a request appends them as they are.
        self.header_values = tuple((h_group, g.encode()) for g in GROUPS)
        self.name_header = (h_experiment, name.encode())


class Experiments:
    """The engine hook and the experiments' registry (see the module docstring)."""

    def __init__(self, *, pseudonym: Any, header_prefix: bytes, capacity: int = 200_000,
                 store: RedisStore | None = None, redis_prefix: str = "ig",
                 clock: Any = time.time) -> None:
        self.pseudonym = pseudonym
        self.capacity = capacity
        self.store = store
        self.shared = store is not None  # counters shared through the Redis store
        self.redis_prefix = redis_prefix
        self.clock = clock
        self.current: Experiment | None = None
        self.books: dict[str, OutcomeBook] = {}
        self.riders: dict[str, Any] = {}
        self.invalid_order_values = 0
        self.exporter: Any = None  # proxy.export.Exporter when a sink is configured
        p = header_prefix.decode()
        self.h_group = (p + "group").lower().encode()
        self.h_experiment = (p + "experiment").lower().encode()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, name: str, share: float, salt: str | None = None) -> Experiment:
        check_name(name)
        # The cohort key is a pseudonym of the salt: derived from the proxy's secret, so every
        # process sharing the secret assigns alike, and nobody without it can predict groups.
        key = self.pseudonym("cohort:" + (salt if salt is not None else name)).encode()
        cohorts = Cohorts(name, key, share, salt)
        book = self.books.get(name)
        if book is None:
            store = self.store
            book = OutcomeBook(capacity=self.capacity, shared=store is not None,
                               on_pending=store.wake if store is not None else None)
            self.books[name] = book
            if store is not None:
                from signals.redis_outcomes import RedisCounters, counters_key

                rider = RedisCounters(book, counters_key(self.redis_prefix, name))
                store.add_rider(rider)
                self.riders[name] = rider
        exp = Experiment(name, cohorts, book, self.clock(), self.h_group, self.h_experiment)
        self.current = exp  # one assignment: a request sees the old or the new one, whole
        logger.info("experiment %s started (holdout share %.3f)", name, share)
        return exp

    async def aclose(self) -> None:
        if self.exporter is not None:
            await self.exporter.aclose()

    def stop(self) -> Experiment | None:
        exp, self.current = self.current, None
        if exp is not None:
            logger.info("experiment %s stopped", exp.name)
        return exp

    # -- the request path --------------------------------------------------------------------

    def on_decision(self, decision: Decision) -> None:
        """A scored request: its session's group (kept from its first request) and headers;
        a change of its class goes to the exporter."""
        exp = self.current
        exporter = self.exporter
        active = decision.active
        if active is None or (exp is None and exporter is None):
            return
        if exp is None:
            exporter.observe(decision, None, None)
            return
        book = exp.book
        entry = book.session(decision.session)
        event = decision.event
        # A tuple indexed by the kind: hashing an IntEnum (``in`` a dict) runs Python code.
        outcome = event is not None and _IS_OUTCOME[event.kind]
        if entry is None:
            stable = decision.pid if decision.pid is not None else "d:" + decision.device
            # A first request that is itself an outcome had no class before it.
            entry = book.open(decision.session, exp.cohorts.is_holdout(stable), active.version,
                              UNDETERMINED if outcome else decision.slug)
        elif not outcome and (entry.cls != decision.slug or entry.model != active.version):
            book.classified(entry, active.version, decision.slug)
        headers = decision.headers
        headers.append(exp.header_values[entry.holdout])
        headers.append(exp.name_header)
        if exporter is not None:
            exporter.observe(decision, exp.name, GROUPS[entry.holdout])

    def on_response(self, decision: Decision, status: int, order_value: bytes | None) -> None:
        """Count an outcome the origin confirmed; the order value comes with a purchase."""
        exp = self.current
        event = decision.event
        if exp is None or event is None or status >= 400 or not _IS_OUTCOME[event.kind]:
            return
        entry = exp.book.session(decision.session)
        if entry is None:
            return
        value = 0.0
        if order_value is not None and event.kind == EventKind.PURCHASE:
            try:
                value = float(order_value.decode("latin-1").strip())
            except ValueError:
                value = math.nan
            if not 0.0 <= value <= MAX_ORDER_VALUE:  # also NaN
                self.invalid_order_values += 1
                value = 0.0
        exp.book.outcome(entry, EventKind(event.kind), value)

    def tags(self, session: str) -> dict[str, Any] | None:
        """Fields for a recorded event line: the session's experiment and group."""
        exp = self.current
        if exp is None:
            return None
        entry = exp.book.session(session)
        if entry is None:
            return None
        return {"experiment": exp.name, "group": GROUPS[entry.holdout]}

    # -- the report --------------------------------------------------------------------------

    async def counters(self, name: str) -> dict[str, float]:
        """The experiment's counters: shared totals (plus what this process has not pushed
        yet) with the Redis store, this process's own with the memory store."""
        book = self.books.get(name)
        store = self.store
        if store is None:
            if book is None:
                raise KeyError(name)
            return dict(book.counts)
        from signals.redis_outcomes import counters_key, read_counters

        try:
            totals = await read_counters(store.client, counters_key(self.redis_prefix, name))
        except Exception as exc:
            raise HTTPError(503, f"redis unavailable, retry: {exc!r}") from None
        if book is not None:
            for field, amount in book.pending.items():
                totals[field] = totals.get(field, 0.0) + amount
        if not totals and book is None:
            raise KeyError(name)
        return totals

    def describe(self) -> dict[str, Any] | None:
        exp = self.current
        if exp is None:
            return None
        return {"name": exp.name, "holdout_share": exp.cohorts.share, "salt_set":
                exp.cohorts.salt != exp.name, "started_at": exp.started_at}


def lift_report(counts: dict[str, float], *, name: str, metric: str, model: str | None,
                active: str | None) -> dict[str, Any]:
    """The report body for ``counts`` (shared by the API and ``intentgate lift``)."""
    table = rows(counts.items())
    models: dict[str, int] = {}
    for r in table:
        models[r["model"]] = models.get(r["model"], 0) + int(r["sessions"])
    if model is None:
        model = active if active in models else (max(models, key=models.__getitem__)
                                                  if models else active)
    chosen = table if model == "all" else [r for r in table if r["model"] == model]
    totals: dict[str, dict[str, float]] = {g: dict.fromkeys(METRICS, 0.0) for g in GROUPS}
    for r in chosen:
        for m in METRICS:
            totals[r["group"]][m] += r[m]
    classes = report(chosen, metric)
    return {"experiment": name, "metric": metric, "model": model,
            "models": [{"version": v, "sessions": n} for v, n in sorted(models.items())],
            "totals": totals, "classes": classes,
            "sentences": [c["sentence"] for c in classes
                          if c["class"] != UNDETERMINED or c["comparable"]]}


# -- admin API ---------------------------------------------------------------------------------


class StartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holdout_share: float = Field(..., gt=0.0, le=0.5)
    salt: str | None = Field(None, min_length=1, max_length=128)


class ExperimentsAPI:
    def __init__(self, runtime: Runtime, experiments: Experiments) -> None:
        self.runtime = runtime
        self.experiments = experiments

    def _name(self, scope: Scope) -> str:
        name = str(scope["path"])[len("/_intentgate/api/experiments/"):]
        try:
            return check_name(name)
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None

    async def _audit(self, action: str, **fields: Any) -> None:
        """Admin actions go to the audit log's sink beside the decisions (kind ``admin``)."""
        gov = self.runtime.governance
        audit = getattr(gov, "audit", None)
        if audit is None:
            return
        rec = {"ts": self.experiments.clock(), "kind": "admin", "action": action,
               "session": None, "profile": None, "class": None, **fields}
        try:
            await audit.sink.write([rec])
        except Exception as exc:  # never fail the action for its audit line; say so
            logger.error("audit of %s failed: %r", action, exc)

    async def index(self, scope: Scope, receive: Receive) -> Result:
        exps = self.experiments
        return 200, {"current": exps.describe(), "known": sorted(exps.books)}, ()

    async def get(self, scope: Scope, receive: Receive) -> Result:
        name = self._name(scope)
        query = dict(_pairs(scope))
        metric = query.get("metric", "purchase")
        if metric not in ("cart", "checkout", "purchase"):
            raise HTTPError(400, "metric must be cart, checkout or purchase")
        model = query.get("model")
        if model is not None and model != "all" and not (8 <= len(model) <= 32):
            raise HTTPError(400, "model must be a model version or 'all'")
        try:
            counts = await self.experiments.counters(name)
        except KeyError:
            raise HTTPError(404, f"no experiment {name!r} (never started here)") from None
        active = self.runtime.engine.active
        body = lift_report(counts, name=name, metric=metric, model=model,
                           active=active.version if active else None)
        current = self.experiments.describe()
        body["running"] = current is not None and current["name"] == name
        body["holdout_share"] = current["holdout_share"] if body["running"] and current else None
        body["shared"] = self.experiments.shared
        return 200, body, ()

    async def start(self, scope: Scope, receive: Receive) -> Result:
        name = self._name(scope)
        raw = await read_body(receive, 4096)
        try:
            body = StartBody.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "body"
            raise HTTPError(400, f"invalid {where}: {err['msg']}") from None
        current = self.experiments.current
        if current is not None and current.name != name:
            raise HTTPError(409, f"experiment {current.name!r} is running: stop it first")
        self.experiments.start(name, body.holdout_share, body.salt)
        await self._audit("experiment.start", experiment=name,
                          holdout_share=body.holdout_share, salt_set=body.salt is not None)
        return 200, {"started": name, "holdout_share": body.holdout_share}, ()

    async def stop(self, scope: Scope, receive: Receive) -> Result:
        name = self._name(scope)
        current = self.experiments.current
        if current is None or current.name != name:
            raise HTTPError(404, f"experiment {name!r} is not running")
        self.experiments.stop()
        await self._audit("experiment.stop", experiment=name)
        return 200, {"stopped": name}, ()


def _pairs(scope: Scope) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(scope.get("query_string", b"").decode("latin-1"))


def build_exporter(settings: Settings, store: ProfileStore, pseudonym: Any,
                   audit: AuditLog | None) -> Any:
    """The class-change exporter for the configured sinks (None when there are none)."""
    from proxy.config import ConfigError
    from proxy.export import AuditExport, Exporter, RedisStreamExport, WebhookExport

    sinks: list[Any] = []
    if settings.export_stream:
        if settings.store != "redis":
            raise ConfigError("export_stream=true needs store = redis")
        sinks.append(RedisStreamExport(store.client,
                                       f"{settings.redis_prefix}:export",
                                       settings.export_stream_maxlen))
    if settings.export_webhook:
        sinks.append(WebhookExport(settings.export_webhook, token=settings.export_webhook_token))
    if settings.export_audit:
        if audit is None:
            raise ConfigError("export_audit=true needs the audit log (audit = true)")
        sinks.append(AuditExport(audit))
    if not sinks:
        return None
    return Exporter(sinks, pseudonym=pseudonym, capacity=settings.memory_capacity,
                    buffer=settings.export_buffer, batch=settings.export_batch,
                    retry_base=min(0.5, settings.export_retry_max_s),
                    retry_max=settings.export_retry_max_s,
                    h_signals=(settings.header_prefix + "Signals").lower().encode())


def build_experiments(settings: Settings, store: ProfileStore, pseudonym: Any,
                      audit: AuditLog | None, clock: Any) -> Experiments:
    """The engine's hook from settings, with the configured experiment started."""
    exps = Experiments(pseudonym=pseudonym,
                       header_prefix=settings.header_prefix.lower().encode(),
                       capacity=settings.memory_capacity,
                       store=store if isinstance(store, RedisStore) else None,
                       redis_prefix=settings.redis_prefix, clock=clock)
    if settings.holdout_share > 0.0:
        exps.start(settings.experiment, settings.holdout_share, settings.experiment_salt)
    exps.exporter = build_exporter(settings, store, pseudonym, audit)
    return exps


def install(admin: AdminApp, runtime: Runtime) -> Experiments:
    """Register the experiments API and its gauges for the runtime's hook."""
    engine = runtime.engine
    exps = engine.experiments
    assert exps is not None  # build_runtime always builds it (off until an experiment runs)
    api = ExperimentsAPI(runtime, exps)
    admin.add("GET", "api/experiments", api.index)
    admin.add("GET", "api/experiments/*", api.get)
    admin.add("POST", "api/experiments/*", api.start)
    admin.add("DELETE", "api/experiments/*", api.stop)
    engine.metrics.gauge(
        "intentgate_experiment", "Experiment: sessions tracked, evicted, pending shared "
        "counter fields, invalid order values.",
        lambda: {} if exps.current is None else {
            f"stat={k}": float(v) for k, v in (
                ("sessions", len(exps.current.book)), ("evicted", exps.current.book.evicted),
                ("pending", len(exps.current.book.pending)),
                ("invalid_order_values", exps.invalid_order_values))})
    if exps.exporter is not None:
        exporter = exps.exporter
        engine.metrics.gauge(
            "intentgate_export", "Class-change export: changes seen; per sink queued, "
            "delivered, dropped (buffer full), failures, batches, buffered.",
            lambda: {f"stat={k}": v for k, v in exporter.stats().items()})
    return exps

