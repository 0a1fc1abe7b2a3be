"""The admin API under ``/_intentgate/api/`` (bearer token) and the merchandiser page under
``/_intentgate/ui/``, plus ``Governance``: what the engine tells explain about each decision.

``install`` registers everything on an ``AdminApp``. Inputs are validated here (pydantic for
query strings, closed patterns for path parameters); every failure is a 4xx with a JSON reason
through the AdminApp's one error path. ``Governance.observe`` runs on the request path after the
kernel (no ``await``: the scorer's buffers are still this request's) and never raises.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classifiers.artifact import Model
from classifiers.errors import ArtifactError
from explain.audit import AuditLog, AuditPolicy, AuditRecord, JsonlSink, RedisStreamSink
from explain.drift import DriftMonitor
from explain.errors import AuditSinkError
from explain.explanation import (
    UNDETERMINED,
    Change,
    SessionJournal,
    confidence_from,
    in_words,
    top_shares,
)
from explain.live import LiveMix
from explain.shadow import Shadow
from proxy.admin import HTTPError, read_body
from proxy.admin_audit import note_action
from proxy.lookup import HISTORY_GONE, profile_state, shopper_view
from proxy.models import read_model_file
from proxy.types import Receive, Scope
from signals.errors import StoreUnavailable
from signals.features import raw_value

if TYPE_CHECKING:
    from proxy.admin import AdminApp
    from proxy.app import Runtime
    from proxy.engine import ActiveModel, Decision

logger = logging.getLogger(__name__)

_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}\.[0-9a-f]{6}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.]{8,128}$")
_PSEUDONYM = re.compile(r"^[A-Za-z0-9_\-]{22}$")
_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
_CURSOR = r"^\d{1,15}-\d{1,15}$"
MAX_MODEL_BYTES = 4 * 1024 * 1024
MAX_USER_CHARS = 256

Result = tuple[int, Any, Any]


# -- what the engine calls per decision ---------------------------------------------------------


class Governance:
    """Per-decision bookkeeping for explanations and governance: the session journal (events
    and class changes), the live class mix, drift sums, the shadow model and the audit log.

    ``observe`` is the one call the engine makes, at the end of scoring a request.
    """

    def __init__(
        self, *, pseudonym: Callable[[str], str], min_events: int = 3,
        audit: AuditLog | None = None, journal: SessionJournal | None = None,
        live: LiveMix | None = None, clock: Callable[[], float] = time.time,
    ) -> None:
        self.pseudonym = pseudonym
        self.min_events = min_events
        self.audit = audit
        self.journal = journal if journal is not None else SessionJournal()
        self.live = live if live is not None else LiveMix()
        self.clock = clock
        self.drift: DriftMonitor | None = None
        self.shadow: Shadow | None = None
        self.errors = 0
        self._version: str | None = None
        self._index: dict[str, int] = {}
        self._logged_at = -1e18

    def _reset(self, model: Model) -> None:
        self._version = model.version
        self._index = {s: i for i, s in enumerate(model.slugs)}
        self.drift = DriftMonitor(model, bucket_s=self.live.bucket_s, buckets=self.live.buckets)

    def observe(self, active: ActiveModel, decision: Decision, profile: str, now: float) -> None:
        """Book one scored decision; contained: a failure here is counted, never raised."""
        try:
            self._observe(active, decision, profile, now)
        except Exception as exc:
            self.errors += 1
            if time.monotonic() - self._logged_at > 10.0:
                self._logged_at = time.monotonic()
                logger.error("governance bookkeeping failed: %r", exc)

    def _observe(self, active: ActiveModel, decision: Decision, profile: str, now: float) -> None:
        journal = self.journal
        session = decision.session
        j = journal.get(session)
        j = journal.entry(session, j.pseudonym if j else self.pseudonym("s:" + session), profile)
        if decision.event is not None:
            journal.add_event(j, decision.event)
        model = active.model
        if model.version != self._version:
            self._reset(model)
        slug = decision.slug
        self.live.add(slug, now)
        state = decision.state
        scored = state.events_seen >= self.min_events  # the engine extracted x for this request
        if scored and self.drift is not None:
            self.drift.observe(active.x, now)
        if self.shadow is not None:
            self.shadow.observe(state, now, slug)
        j.decisions += 1
        previous = j.last_class
        changed = slug != previous and not (previous is None and slug == UNDETERMINED)
        j.last_class = slug
        audit = self.audit
        record = audit is not None and audit.policy.should_record(j.pseudonym, j.decisions,
                                                                  changed)
        if not changed and not record:
            return
        d2 = active.scorer.d2
        confidence = 0.0
        shares: tuple[tuple[str, float], ...] = ()
        if scored:
            order = np.argsort(d2, kind="stable")
            winner, runner = int(order[0]), int(order[1])
            if slug != UNDETERMINED:
                confidence = confidence_from(d2, winner, model.temperature)
                shares = top_shares(active.scorer.contrib, float(d2[runner] - d2[winner]),
                                    active.names)
        raw = [raw_value(state, n, now) for n in active.names]
        if changed:
            minutes = raw_value(state, "session_minutes", now)
            position = {n: i for i, n in enumerate(active.names)}
            words = tuple(in_words(n, raw[position[n]], minutes) for n, _ in shares)
            j.changes.append(Change(now, slug, previous, confidence, model.version, shares,
                                    words))
        if record and audit is not None:
            d = len(active.names)
            audit.submit(AuditRecord(
                ts=now, session=j.pseudonym, profile=profile, model=model.version, cls=slug,
                confidence=confidence, previous=previous,
                event=decision.event.kind.slug if decision.event is not None else None,
                signals=active.names,
                contributions=active.scorer.contrib.tolist() if scored else [0.0] * d,
                raw=raw, x=active.x.tolist() if scored else [0.0] * d,
            ))

    def identified(self, decision: Decision, profile: str) -> None:
        """The shop named the shopper: the session's journal belongs to ``profile`` from now
        on, so a lookup shows the profile's class at once; never raises."""
        try:
            j = self.journal.get(decision.session)
            if j is not None:
                self.journal.entry(decision.session, j.pseudonym, profile)
        except Exception:
            self.errors += 1

    def reverted(self, decision: Decision) -> None:
        """The decision's page answered 4xx/5xx and its event was undone; never raises."""
        try:
            if decision.event is not None:
                self.journal.mark_undone(decision.session, decision.event.ts)
        except Exception:
            self.errors += 1

    # -- shadow ----------------------------------------------------------------------------

    def start_shadow(self, candidate: Model, now: float) -> Shadow:
        shadow = Shadow(candidate, min_events=self.min_events, started_at=now)
        shadow.warm()  # compile before it meets a request
        self.shadow = shadow
        return shadow

    def stop_shadow(self) -> bool:
        had = self.shadow is not None
        self.shadow = None
        return had

    async def aclose(self) -> None:
        if self.audit is not None:
            await self.audit.aclose()


# -- inputs ------------------------------------------------------------------------------------


class DecisionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    cls: str | None = Field(None, alias="class", pattern=_SLUG)
    since: float | None = Field(None, ge=0.0, le=1e11)
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, pattern=_CURSOR)


class ActionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(None, pattern=_CURSOR)


def _query(scope: Scope, model: type[BaseModel]) -> Any:
    raw = scope.get("query_string", b"").decode("latin-1")
    pairs = parse_qsl(raw, keep_blank_values=False)
    values: dict[str, str] = {}
    for k, v in pairs:
        if k in values:
            raise HTTPError(400, f"query parameter {k!r} given twice")
        values[k] = v
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "query"
        raise HTTPError(400, f"invalid {where}: {err['msg']}") from None


def _tail(scope: Scope, prefix: str) -> str:
    """The path after ``/_intentgate/<prefix>`` (ASGI paths arrive percent-decoded)."""
    return str(scope["path"])[len("/_intentgate/") + len(prefix):]


# -- the API -----------------------------------------------------------------------------------


class AdminAPI:
    def __init__(self, runtime: Runtime, governance: Governance) -> None:
        self.runtime = runtime
        self.governance = governance

    # -- models ----------------------------------------------------------------------------

    async def models(self, scope: Scope, receive: Receive) -> Result:
        registry = self.runtime.registry
        shadow = self.governance.shadow
        return 200, {"active": registry.active.version if registry.active else None,
                     "shadow": shadow.candidate.version if shadow else None,
                     "history": registry.versions_history(),
                     "models": registry.versions()}, ()

    async def upload(self, scope: Scope, receive: Receive) -> Result:
        body = await read_body(receive, MAX_MODEL_BYTES)
        try:
            model = self.runtime.registry.add(body)
        except ArtifactError as exc:
            raise HTTPError(422, f"model refused: {exc}") from None
        note_action(scope, version=model.version)
        return 201, {"version": model.version, "classes": list(model.slugs)}, ()

    def _load(self, version: str) -> Model:
        if not _VERSION.match(version):
            raise HTTPError(400, f"not a model version: {version[:40]!r}")
        try:
            path = self.runtime.registry.path_of(version)
        except KeyError:
            raise HTTPError(404, f"no model version {version!r}") from None
        if not path.exists():
            raise HTTPError(404, f"no model version {version!r}")
        try:
            return read_model_file(path)
        except ArtifactError as exc:
            raise HTTPError(422, str(exc)) from None

    async def model_action(self, scope: Scope, receive: Receive) -> Result:
        # models/{version}/activate | models/{version}/shadow
        parts = scope["path"].split("/")
        version, action = parts[-2], parts[-1]
        note_action(scope, version=version[:40])
        if action == "shadow":
            model = self._load(version)
            self.governance.start_shadow(model, self.runtime.engine.clock())
            active = self.runtime.engine.active
            return 200, {"shadow": model.version,
                         "live": active.version if active else None}, ()
        if action != "activate":
            raise HTTPError(404, f"no such model action {action[:40]!r}")
        if not _VERSION.match(version):
            raise HTTPError(400, f"not a model version: {version[:40]!r}")
        try:
            model = self.runtime.registry.activate(version)
        except KeyError as exc:
            raise HTTPError(404, str(exc.args[0])) from None
        except ArtifactError as exc:
            raise HTTPError(422, str(exc)) from None
        return 200, {"active": model.version}, ()

    async def rollback(self, scope: Scope, receive: Receive) -> Result:
        try:
            model = self.runtime.registry.rollback()
        except KeyError as exc:
            raise HTTPError(409, str(exc.args[0])) from None
        note_action(scope, version=model.version)
        return 200, {"active": model.version}, ()

    async def shadow_report(self, scope: Scope, receive: Receive) -> Result:
        shadow = self.governance.shadow
        if shadow is None:
            raise HTTPError(404, "no shadow model: POST models/{version}/shadow starts one")
        active = self.runtime.engine.active
        return 200, shadow.report(active.version if active else None), ()

    async def shadow_stop(self, scope: Scope, receive: Receive) -> Result:
        return 200, {"stopped": self.governance.stop_shadow()}, ()

    # -- live traffic ----------------------------------------------------------------------

    def _active_model(self) -> Model:
        active = self.runtime.engine.active
        if active is None:
            raise HTTPError(409, "no model is active")
        return active.model

    async def segments(self, scope: Scope, receive: Receive) -> Result:
        model = self._active_model()
        now = self.runtime.engine.clock()
        mix = self.governance.live.shares(
            model.slugs, [c.percentage for c in model.artifact.classes], now)
        by_slug = {row["slug"]: row for row in mix["classes"]}
        cards = model.segments()
        for card in cards:
            row = by_slug[card["slug"]]
            card["live_requests"] = row["live_decisions"]
            card["live_percentage"] = row["live_percentage"]
            card["training_percentage"] = row["training_percentage"]
        return 200, {"model": model.version, "segments": cards, "window_s": mix["window_s"],
                     "classified_requests": mix["classified"],
                     "undetermined_requests": mix["undetermined"]}, ()

    async def live(self, scope: Scope, receive: Receive) -> Result:
        model = self._active_model()
        now = self.runtime.engine.clock()
        live = self.governance.live
        mix = live.shares(model.slugs, [c.percentage for c in model.artifact.classes], now)
        return 200, {"model": model.version, "bucket_s": live.bucket_s, "now": now,
                     "mix": mix, "series": live.series(now),
                     "display_names": dict(zip(model.slugs, model.display_names, strict=True))
                     }, ()

    async def drift(self, scope: Scope, receive: Receive) -> Result:
        model = self._active_model()
        gov = self.governance
        now = self.runtime.engine.clock()
        monitor = gov.drift
        if monitor is None or monitor.model.version != model.version:
            monitor = DriftMonitor(model, bucket_s=gov.live.bucket_s, buckets=gov.live.buckets)
        return 200, monitor.report(gov.live.counts(now), now), ()

    # -- decisions and sessions ------------------------------------------------------------

    async def decisions(self, scope: Scope, receive: Receive) -> Result:
        q: DecisionsQuery = _query(scope, DecisionsQuery)
        audit = self.governance.audit
        if audit is None:
            raise HTTPError(409, "the audit log is off (setting audit = false)")
        try:
            records, cursor = await audit.query(q.cls, q.since, q.limit, q.cursor)
        except AuditSinkError as exc:
            raise HTTPError(503, str(exc)) from None
        return 200, {"decisions": records, "next_cursor": cursor,
                     "dropped": audit.dropped}, ()

    async def session(self, scope: Scope, receive: Receive) -> Result:
        ident = _tail(scope, "api/sessions/")
        if not _TOKEN.match(ident):
            raise HTTPError(400, "session id must be the session cookie's value or the "
                                 "pseudonymous session token of a decision")
        engine = self.runtime.engine
        journal = self.governance.journal
        session = journal.session_of(ident) if _PSEUDONYM.match(ident) else None
        if session is None:
            session = engine.codec.verify(ident)
            if session is None:
                if _PSEUDONYM.match(ident):  # a decision's token whose journal is gone
                    return await self._gone_session(scope)
                raise HTTPError(400, "not a valid signed session id or a known pseudonym")
        entry = journal.get(session)
        try:
            out = await shopper_view(engine, self.governance, session=session,
                                     profile=entry.profile if entry else None,
                                     now=engine.clock())
        except LookupError as exc:
            raise HTTPError(404, str(exc)) from None
        return 200, out, ()

    async def _gone_session(self, scope: Scope) -> Result:
        """A decision's session whose timeline is gone (a restart, or evicted). When the audit
        record named a signed-in shopper's profile (``?profile=``) that still exists, show the
        profile: its class now, and whatever timeline remains; otherwise say history is gone."""
        raw = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        profile = raw.get("profile", "")
        engine = self.runtime.engine
        if not _PSEUDONYM.match(profile) or await profile_state(
                engine, profile, engine.clock()) is None:
            raise HTTPError(404, HISTORY_GONE)
        out = await shopper_view(engine, self.governance, session=None, profile=profile,
                                 now=engine.clock())
        if HISTORY_GONE not in out["notes"]:
            out["notes"].append("the timeline of that session is gone (the proxy restarted or "
                                "served many other shoppers since); this is the profile it "
                                "belonged to")
        return 200, out, ()

    async def customer(self, scope: Scope, receive: Receive) -> Result:
        """``GET api/customers/<id>``: a shopper by the shop's own customer id, as the shop
        sends it in the identify header (hashed the same way; never stored raw)."""
        user = _tail(scope, "api/customers/")
        if not user or len(user) > MAX_USER_CHARS or not user.isprintable():
            raise HTTPError(400, f"customer id must be 1..{MAX_USER_CHARS} printable characters")
        engine = self.runtime.engine
        profile = engine.codec.pseudonym("u:" + user.strip())
        if await profile_state(engine, profile, engine.clock()) is None:
            raise HTTPError(404, "no profile for that customer id: the shop has not signed "
                                 "them in through this proxy (X-Intent-Identify), or the "
                                 "profile expired or was erased")
        out = await shopper_view(engine, self.governance, session=None, profile=profile,
                                 now=engine.clock())
        return 200, out, ()

    # -- erasure ---------------------------------------------------------------------------

    async def erase_profile(self, scope: Scope, receive: Receive) -> Result:
        user = _tail(scope, "api/profiles/")
        if not user or len(user) > MAX_USER_CHARS or not user.isprintable():
            raise HTTPError(400, f"user must be 1..{MAX_USER_CHARS} printable characters")
        engine = self.runtime.engine
        codec, gov = engine.codec, self.governance
        # A keyed hash of the user id, its own (matches no profile token): whoever holds the
        # secret and the user id can show this erasure happened; the record alone names nobody.
        note_action(scope, subject=codec.pseudonym("erasure:" + user))
        store: Any = engine.store
        profile = codec.pseudonym("u:" + user)
        devices = store.devices_of(profile) if hasattr(store, "devices_of") else []
        profiles = {profile} | {codec.pseudonym("d:" + d) for d in devices}
        unlinked = sum(1 for d in devices if store.unlink(d))
        sessions = gov.journal.sessions_of(profiles)
        pseudonyms = set()
        deleted_states = 0
        for s in sessions:
            entry = gov.journal.get(s)
            if entry is not None:
                pseudonyms.add(entry.pseudonym)
            deleted_states += int(store.delete(s))
            gov.journal.drop(s)
        audit_removed = 0
        if gov.audit is not None:
            try:
                for p in sorted(profiles):
                    audit_removed += await gov.audit.erase(p)
            except AuditSinkError as exc:
                raise HTTPError(503, f"erasure incomplete, retry: {exc}") from None
        events_removed = _scrub_recorded(engine.recorder, pseudonyms)
        try:
            shared_removed = await store.erase_profile(profile)
        except StoreUnavailable as exc:
            raise HTTPError(503, f"erasure incomplete, retry: {exc}") from None
        return 200, {"profile": profile, "devices_unlinked": unlinked,
                     "store_keys_deleted": shared_removed,
                     "sessions_deleted": deleted_states, "journals_deleted": len(sessions),
                     "audit_records_deleted": audit_removed,
                     "recorded_events_deleted": events_removed}, ()

    # -- admin actions ----------------------------------------------------------------------

    async def actions(self, scope: Scope, receive: Receive) -> Result:
        """``GET api/actions``: the audited admin actions, newest first."""
        q: ActionsQuery = _query(scope, ActionsQuery)
        audit = self.runtime.admin.audit
        if audit is None:
            raise HTTPError(409, "admin actions are not recorded here")
        try:
            records, cursor = await audit.query(q.limit, q.cursor)
        except AuditSinkError as exc:
            raise HTTPError(503, str(exc)) from None
        return 200, {"actions": records, "next_cursor": cursor}, ()

    # -- identify merges: list and undo -----------------------------------------------------

    def _merge_user(self, scope: Scope, suffix: str) -> str:
        tail = _tail(scope, "api/profiles/")
        if not tail.endswith(suffix):
            raise HTTPError(404, f"no such endpoint: {scope['path']}")
        user = tail[: -len(suffix)]
        if not user or len(user) > MAX_USER_CHARS or not user.isprintable():
            raise HTTPError(400, f"user must be 1..{MAX_USER_CHARS} printable characters")
        return self.runtime.engine.codec.pseudonym("u:" + user)

    async def profile_merges(self, scope: Scope, receive: Receive) -> Result:
        """``GET api/profiles/<user>/merges``: the identify merges that can still be undone."""
        profile = self._merge_user(scope, "/merges")
        engine = self.runtime.engine
        try:
            merges = await engine.store.merges_of(profile, engine.clock())
        except StoreUnavailable as exc:
            raise HTTPError(503, f"profile store unavailable, retry: {exc}") from None
        return 200, {"profile": profile, "merges": merges}, ()

    async def undo_merge(self, scope: Scope, receive: Receive) -> Result:
        """``POST api/profiles/<user>/merges/<id>/undo``: take one merge back out."""
        tail = _tail(scope, "api/profiles/")
        head, sep, rest = tail.rpartition("/merges/")
        if not sep or not rest.endswith("/undo"):
            raise HTTPError(404, f"no such endpoint: {scope['path']}")
        merge_id = rest[: -len("/undo")]
        if not _PSEUDONYM.match(merge_id):
            raise HTTPError(400, "merge id must be an id from the merges list")
        scope = dict(scope, path=f"/_intentgate/api/profiles/{head}/merges")
        profile = self._merge_user(scope, "/merges")
        engine = self.runtime.engine
        try:
            result = await engine.store.undo_merge(profile, merge_id, engine.clock())
        except StoreUnavailable as exc:
            raise HTTPError(503, f"profile store unavailable, retry: {exc}") from None
        if result == 0:
            raise HTTPError(404, "no such merge for that profile (already undone or expired)")
        if result < 0:
            raise HTTPError(409, "the merge is older than the undo period")
        return 200, {"profile": profile, "undone": merge_id}, ()

    # -- the page --------------------------------------------------------------------------

    async def ui_redirect(self, scope: Scope, receive: Receive) -> Result:
        return 308, (b"text/plain", b"/_intentgate/ui/"), [(b"location", b"/_intentgate/ui/")]


def _scrub_recorded(recorder: Any, pseudonyms: set[str]) -> int:
    """Remove the recorded events of ``pseudonyms`` from the event recorder's JSONL files.

    Rewritten in place (same inode), so the recorder's append handle stays valid."""
    if recorder is None or not pseudonyms:
        return 0
    recorder.flush()
    removed = 0
    directory = Path(recorder.directory)
    for path in sorted(directory.glob("events.jsonl*")):
        lines = path.read_bytes().splitlines(keepends=True)
        kept = []
        for line in lines:
            try:
                session = orjson.loads(line).get("session")
            except (orjson.JSONDecodeError, AttributeError):
                session = None
            if session in pseudonyms:
                continue
            kept.append(line)
        if len(kept) != len(lines):
            removed += len(lines) - len(kept)
            with path.open("r+b") as fh:
                fh.write(b"".join(kept))
                fh.truncate()
    return removed


_STATIC = {
    "ui/": ("index.html", b"text/html; charset=utf-8"),
    "ui/app.js": ("app.js", b"application/javascript; charset=utf-8"),
    "ui/experiments.js": ("experiments.js", b"application/javascript; charset=utf-8"),
    "ui/style.css": ("style.css", b"text/css; charset=utf-8"),
}
_UI_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


def _static_handler(ctype: bytes, payload: bytes) -> Callable[[Scope, Receive], Any]:
    async def handler(scope: Scope, receive: Receive) -> Result:
        return 200, (ctype, payload), _UI_HEADERS

    return handler


def build_governance(runtime: Runtime) -> Governance:
    """Governance from settings."""
    settings = runtime.settings
    engine = runtime.engine
    audit = None
    if settings.audit:
        retention = settings.audit_retention_days * 86400.0
        sink: Any
        if settings.store == "redis":
            # The store's client: same server or Cluster, same short deadlines.
            client = engine.store.client  # type: ignore[attr-defined]
            sink = RedisStreamSink(client, key=f"{settings.redis_prefix}:audit",
                                   maxlen=settings.audit_stream_maxlen,
                                   retention_s=retention)
        else:
            directory = settings.audit_dir or settings.data_path() / "audit"
            sink = JsonlSink(Path(directory), max_bytes=settings.audit_max_bytes,
                             keep=settings.audit_keep, retention_s=retention)
        audit = AuditLog(sink, capacity=settings.audit_queue,
                         policy=AuditPolicy(settings.audit_sample_rate))
    return Governance(pseudonym=engine.codec.pseudonym, min_events=engine.options.min_events,
                      audit=audit, clock=engine.clock)


def install(admin: AdminApp, runtime: Runtime, governance: Governance | None = None) -> AdminAPI:
    """Register the API and the page on ``admin`` and hook governance into the engine."""
    gov = governance if governance is not None else build_governance(runtime)
    runtime.governance = gov
    runtime.engine.observer = gov
    api = AdminAPI(runtime, gov)
    admin.add("GET", "api/models", api.models)
    admin.add("POST", "api/models", api.upload, action="model.upload")
    admin.add("POST", "api/models/rollback", api.rollback, action="model.rollback")
    admin.add("GET", "api/models/shadow", api.shadow_report)
    admin.add("DELETE", "api/models/shadow", api.shadow_stop, action="model.shadow_stop")
    admin.add("POST", "api/models/*", api.model_action,
              action=lambda sub: "model." + sub.rpartition("/")[2][:20])
    admin.add("GET", "api/segments", api.segments)
    admin.add("GET", "api/live", api.live)
    admin.add("GET", "api/drift", api.drift)
    admin.add("GET", "api/decisions", api.decisions)
    admin.add("GET", "api/sessions/*", api.session)
    admin.add("GET", "api/customers/*", api.customer)
    admin.add("DELETE", "api/profiles/*", api.erase_profile, action="profile.erase")
    admin.add("GET", "api/profiles/*", api.profile_merges)
    admin.add("POST", "api/profiles/*", api.undo_merge, action="profile.undo_merge")
    admin.add("GET", "api/actions", api.actions)
    static = resources.files("explain").joinpath("static")
    for path, (name, ctype) in _STATIC.items():
        admin.add("GET", path, _static_handler(ctype, static.joinpath(name).read_bytes()),
                  token=False)
    admin.add("GET", "ui", api.ui_redirect, token=False)
    metrics = runtime.engine.metrics
    if gov.audit is not None:
        audit = gov.audit
        metrics.gauge("intentgate_audit", "Audit log: queue depth, records dropped/written, "
                      "sink errors.", lambda: {f"stat={k}": v for k, v in audit.stats().items()})
    metrics.gauge("intentgate_shadow_agreement", "Shadow model agreement with the live model.",
                  lambda: {f"candidate={gov.shadow.candidate.version}":
                           gov.shadow.agreed / max(gov.shadow.decisions, 1)}
                  if gov.shadow is not None else {})
    return api
