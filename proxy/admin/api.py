"""The admin API under ``/_intentgate/api/`` (bearer token) and the merchandiser page under
``/_intentgate/ui/``.

``install`` registers everything on an ``AdminApp`` and hands the engine the governance queue
(``explain.governance``: journal, live mix, drift, shadow, audit, drained off the request path).
Inputs are validated here (pydantic for query strings, closed patterns for path parameters);
every failure is a 4xx with a JSON reason through the AdminApp's one error path.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from classifiers.artifact import Model
from classifiers.errors import ArtifactError
from explain.drift import DriftMonitor
from explain.errors import AuditSinkError
from explain.governance import Governance
from explain.live import LiveMix
from proxy.admin.audit import note_action
from proxy.admin.lookup import HISTORY_GONE, profile_state, shopper_view
from proxy.admin.surface import HTTPError, read_body
from proxy.instance import instance_dir
from proxy.modelsync import SyncUnavailable
from proxy.types import Receive, Scope
from signals.errors import StoreUnavailable
from signals.jsonl import drop_lines

if TYPE_CHECKING:
    from proxy.admin.surface import AdminApp
    from proxy.app import Runtime

logger = logging.getLogger(__name__)

_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}\.[0-9a-f]{6}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.]{8,128}$")
_PSEUDONYM = re.compile(r"^[A-Za-z0-9_\-]{22}$")
_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
_CURSOR = r"^\d{1,15}-\d{1,15}(-\d{1,10})?$"
MAX_MODEL_BYTES = 4 * 1024 * 1024
MAX_USER_CHARS = 256

Result = tuple[int, Any, Any]


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
        sync = self.runtime.modelsync
        return 200, {"active": registry.active.version if registry.active else None,
                     "shadow": shadow.candidate.version if shadow else None,
                     "history": registry.versions_history(),
                     "models": registry.versions(),
                     "workers": await sync.workers() if sync is not None else []}, ()

    async def upload(self, scope: Scope, receive: Receive) -> Result:
        body = await read_body(receive, MAX_MODEL_BYTES)
        try:
            model = self.runtime.registry.add(body)
        except ArtifactError as exc:
            raise HTTPError(422, f"model refused: {exc}") from None
        note_action(scope, version=model.version)
        return 201, {"version": model.version, "classes": list(model.slugs)}, ()

    def _check_version(self, version: str) -> None:
        if not _VERSION.match(version):
            raise HTTPError(400, f"not a model version: {version[:40]!r}")

    async def model_action(self, scope: Scope, receive: Receive) -> Result:
        # models/{version}/activate | models/{version}/shadow: recorded durably for every
        # worker of every instance (proxy.modelsync), answered with each worker's version.
        parts = scope["path"].split("/")
        version, action = parts[-2], parts[-1]
        note_action(scope, version=version[:40])
        if action not in ("shadow", "activate"):
            raise HTTPError(404, f"no such model action {action[:40]!r}")
        self._check_version(version)
        sync = self.runtime.modelsync
        try:
            if action == "shadow":
                return 200, await sync.set_shadow(version), ()
            return 200, await sync.activate(version), ()
        except ArtifactError as exc:
            status = 404 if "no model version" in str(exc) else 422
            raise HTTPError(status, str(exc)) from None
        except SyncUnavailable as exc:
            raise HTTPError(503, f"{exc}; nothing was changed, retry") from None

    async def rollback(self, scope: Scope, receive: Receive) -> Result:
        try:
            answer = await self.runtime.modelsync.rollback()
        except KeyError as exc:
            raise HTTPError(409, str(exc.args[0])) from None
        except ArtifactError as exc:
            raise HTTPError(422, str(exc)) from None
        except SyncUnavailable as exc:
            raise HTTPError(503, f"{exc}; nothing was changed, retry") from None
        note_action(scope, version=answer["active"])
        return 200, answer, ()

    async def shadow_report(self, scope: Scope, receive: Receive) -> Result:
        shadow = self.governance.shadow
        if shadow is None:
            raise HTTPError(404, "no shadow model: POST models/{version}/shadow starts one")
        active = self.runtime.engine.active
        report = shadow.report(active.version if active else None)
        shared = self.runtime.shared
        if shared is not None:
            counts, where = await shared.shadow(shadow.candidate.version)
            if counts is not None:
                report.update(counts)
            return 200, self._scoped(report, where), ()
        return 200, self._scoped(report), ()

    async def shadow_stop(self, scope: Scope, receive: Receive) -> Result:
        had = self.governance.shadow is not None
        try:
            answer = await self.runtime.modelsync.set_shadow(None)
        except SyncUnavailable as exc:
            raise HTTPError(503, f"{exc}; nothing was changed, retry") from None
        return 200, {"stopped": had, "workers": answer["workers"]}, ()

    # -- live traffic ----------------------------------------------------------------------

    def _active_model(self) -> Model:
        active = self.runtime.engine.active
        if active is None:
            raise HTTPError(409, "no model is active")
        return active.model

    def _scoped(self, answer: dict[str, Any], where: str | None = None) -> dict[str, Any]:
        """Say whose traffic an answer covers: ``global`` (every worker of every instance,
        through Redis), ``local only`` (Redis away: this worker's own view), ``worker`` (the
        memory store with several workers: this worker's view), ``instance`` (one process)."""
        if where is None:
            where = "worker" if instance_dir() is not None else "instance"
        answer["scope"] = where
        if where == "local only":
            answer["note"] = ("redis is unreachable: this answer covers only the requests this "
                              "worker served")
        elif where == "worker":
            answer["note"] = ("several workers with the memory store: this answer covers only "
                              "the requests this worker served; use --store redis for the "
                              "whole deployment")
        return answer

    async def _mix(self, now: float) -> tuple[LiveMix, str | None]:
        shared = self.runtime.shared
        if shared is None:
            return self.governance.live, None
        mix, where = await shared.live(now)
        return mix, where

    async def segments(self, scope: Scope, receive: Receive) -> Result:
        model = self._active_model()
        now = self.runtime.engine.clock()
        live, where = await self._mix(now)
        mix = live.shares(model.slugs, [c.percentage for c in model.artifact.classes], now)
        by_slug = {row["slug"]: row for row in mix["classes"]}
        cards = model.segments()
        for card in cards:
            row = by_slug[card["slug"]]
            card["live_requests"] = row["live_decisions"]
            card["live_percentage"] = row["live_percentage"]
            card["training_percentage"] = row["training_percentage"]
        return 200, self._scoped({
            "model": model.version, "segments": cards, "window_s": mix["window_s"],
            "classified_requests": mix["classified"],
            "undetermined_requests": mix["undetermined"]}, where), ()

    async def live(self, scope: Scope, receive: Receive) -> Result:
        model = self._active_model()
        now = self.runtime.engine.clock()
        live, where = await self._mix(now)
        mix = live.shares(model.slugs, [c.percentage for c in model.artifact.classes], now)
        return 200, self._scoped({
            "model": model.version, "bucket_s": live.bucket_s, "now": now,
            "mix": mix, "series": live.series(now),
            "display_names": dict(zip(model.slugs, model.display_names, strict=True))},
            where), ()

    async def drift(self, scope: Scope, receive: Receive) -> Result:
        model = self._active_model()
        gov = self.governance
        now = self.runtime.engine.clock()
        shared = self.runtime.shared
        if shared is not None:
            monitor, mix, where = await shared.drift(model, now)
            return 200, self._scoped(monitor.report(mix.counts(now), now), where), ()
        monitor = gov.drift
        if monitor is None or monitor.model.version != model.version:
            monitor = DriftMonitor(model, bucket_s=gov.live.bucket_s, buckets=gov.live.buckets)
        return 200, self._scoped(monitor.report(gov.live.counts(now), now)), ()

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
        """``GET api/sessions/<id>``: one shopper's story (``proxy.admin.lookup``): the class the
        proxy uses for them now (the profile's once identified) and one timeline across devices.
        With the Redis store, a session another worker or instance served is found through the
        shared journal."""
        ident = _tail(scope, "api/sessions/")
        if not _TOKEN.match(ident):
            raise HTTPError(400, "session id must be the session cookie's value or the "
                                 "pseudonymous session token of a decision")
        engine = self.runtime.engine
        journal = self.governance.journal
        shared = self.runtime.shared
        session = journal.session_of(ident) if _PSEUDONYM.match(ident) else None
        if session is None:
            session = engine.codec.verify(ident)
        now = engine.clock()
        if session is None:
            if not _PSEUDONYM.match(ident):
                raise HTTPError(400, "not a valid signed session id or a known pseudonym")
            # A decision's pseudonym this worker has no journal for: another worker or instance
            # served it (the shared journal has it), or its history is gone.
            view, where = (await shared.journal(ident)) if shared is not None else (None, None)
            if view is None:
                return await self._gone_session(scope)
            profile = view.get("profile")
            if isinstance(profile, str) and _PSEUDONYM.match(profile) and await profile_state(
                    engine, profile, now) is not None:
                # A signed-in shopper: the class the proxy uses now is the profile's.
                out = await shopper_view(engine, self.governance, session=None,
                                         profile=profile, now=now)
                for key in ("timeline", "changes", "decisions"):
                    out[key] = view[key]
                out["session"] = ident
                out["notes"] = [n for n in out["notes"] if n != HISTORY_GONE]
                return 200, self._scoped(out, where), ()
            return 200, self._scoped(self._shared_view(ident, view, now), where), ()
        entry = journal.get(session)
        found: dict[str, Any] | None
        try:
            found = await shopper_view(engine, self.governance, session=session,
                                     profile=entry.profile if entry else None, now=now)
        except LookupError as exc:
            found = None
            miss = str(exc)
        where = None
        if shared is not None and entry is None:
            view, where = await shared.journal(self.governance.pseudonym("s:" + session))
            if view is not None:
                if found is None:
                    found = self._shared_view(self.governance.pseudonym("s:" + session), view,
                                              now)
                else:
                    for key in ("timeline", "changes", "decisions"):
                        found[key] = view[key]
        if found is None:
            raise HTTPError(404, miss)
        return 200, self._scoped(found, where), ()

    def _shared_view(self, pseudonym: str, view: dict[str, Any], now: float) -> dict[str, Any]:
        """A session known only through the shared journal (another worker served it)."""
        out: dict[str, Any] = {
            "session": pseudonym, "profile": view.get("profile"), "identified": False,
            "events": 0, "started_at": None, "devices": [], "merges": [], "notes": [],
            "timeline": view["timeline"], "changes": view["changes"],
            "decisions": view["decisions"],
        }
        return out

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
        return 200, self._scoped(out), ()

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
        return 200, self._scoped(out), ()

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
        devices = store.devices_of(profile)
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

    async def routes_unmatched(self, scope: Scope, receive: Receive) -> Result:
        engine = self.runtime.engine
        if engine.unmatched is None:
            raise HTTPError(409, "the unmatched-routes sample is off")
        return 200, engine.unmatched.report(engine.routes), ()

    async def ui_redirect(self, scope: Scope, receive: Receive) -> Result:
        return 308, (b"text/plain", b"/_intentgate/ui/"), [(b"location", b"/_intentgate/ui/")]


def _session_of(line: bytes) -> object:
    try:
        return orjson.loads(line).get("session")
    except (orjson.JSONDecodeError, AttributeError):
        return None


def _scrub_recorded(recorder: Any, pseudonyms: set[str]) -> int:
    """Remove the recorded events of ``pseudonyms`` from the event recorder's JSONL files.

    Rewritten in place (same inode), so the recorder's append handle stays valid."""
    if recorder is None or not pseudonyms:
        return 0
    recorder.flush()
    removed = 0
    directory = Path(recorder.directory)
    for path in sorted(directory.glob("events*.jsonl*")):
        removed += drop_lines(path, lambda line: _session_of(line) in pseudonyms)
    return removed


_STATIC = {
    "ui/": ("index.html", b"text/html; charset=utf-8"),
    "ui/app.js": ("app.js", b"application/javascript; charset=utf-8"),
    "ui/experiments.js": ("experiments.js", b"application/javascript; charset=utf-8"),
    "ui/scope.js": ("scope.js", b"application/javascript; charset=utf-8"),
    "ui/style.css": ("style.css", b"text/css; charset=utf-8"),
    "ui/routes.js": ("routes.js", b"application/javascript; charset=utf-8"),
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


def install(admin: AdminApp, runtime: Runtime) -> AdminAPI:
    """Register the API and the page on ``admin``, over the runtime's governance."""
    gov = runtime.governance
    api = AdminAPI(runtime, gov)

    def drained(handler: Callable[[Scope, Receive], Any]) -> Callable[[Scope, Receive], Any]:
        async def answer(scope: Scope, receive: Receive) -> Any:
            gov.drain()  # the answer includes every decision made before it was asked
            return await handler(scope, receive)

        return answer

    admin.add("GET", "api/models", drained(api.models))
    admin.add("POST", "api/models", drained(api.upload), action="model.upload")
    admin.add("POST", "api/models/rollback", drained(api.rollback), action="model.rollback")
    admin.add("GET", "api/models/shadow", drained(api.shadow_report))
    admin.add("DELETE", "api/models/shadow", drained(api.shadow_stop), action="model.shadow_stop")
    admin.add("POST", "api/models/*", drained(api.model_action),
              action=lambda sub: "model." + sub.rpartition("/")[2][:20])
    admin.add("GET", "api/segments", drained(api.segments))
    admin.add("GET", "api/live", drained(api.live))
    admin.add("GET", "api/drift", drained(api.drift))
    admin.add("GET", "api/decisions", drained(api.decisions))
    admin.add("GET", "api/sessions/*", drained(api.session))
    admin.add("GET", "api/customers/*", drained(api.customer))
    admin.add("DELETE", "api/profiles/*", drained(api.erase_profile), action="profile.erase")
    admin.add("GET", "api/profiles/*", drained(api.profile_merges))
    admin.add("POST", "api/profiles/*", drained(api.undo_merge), action="profile.undo_merge")
    admin.add("GET", "api/actions", drained(api.actions))
    admin.add("GET", "api/routes/unmatched", api.routes_unmatched)
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
    metrics.gauge("intentgate_governance", "Governance queue (journal, live mix, drift, shadow, "
                  "audit): depth, decisions booked, dropped when full, errors.",
                  lambda: {f"stat={k}": v for k, v in gov.stats().items()})
    metrics.gauge("intentgate_shadow_agreement", "Shadow model agreement with the live model.",
                  lambda: {f"candidate={gov.shadow.candidate.version}":
                           gov.shadow.agreed / max(gov.shadow.decisions, 1)}
                  if gov.shadow is not None else {})
    return api
