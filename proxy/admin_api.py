"""The admin API under ``/_intentgate/api/`` (bearer token): models, segments, sessions.

Registered on an ``AdminApp`` by ``install``. Inputs are validated here (path parameters have a
closed shape); every failure is a 4xx with a JSON reason through the AdminApp's one error path.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from classifiers.errors import ArtifactError
from proxy.admin import HTTPError, read_body
from proxy.types import Receive, Scope
from signals.features import FeatureExtractor, describe, raw_value

if TYPE_CHECKING:
    from proxy.admin import AdminApp
    from proxy.app import Runtime

_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}\.[0-9a-f]{6}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.]{8,128}$")
MAX_MODEL_BYTES = 4 * 1024 * 1024

Result = tuple[int, Any, Any]


class AdminAPI:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # -- models ----------------------------------------------------------------------------

    async def models(self, scope: Scope, receive: Receive) -> Result:
        registry = self.runtime.registry
        return 200, {"active": registry.active.version if registry.active else None,
                     "history": registry.versions_history(),
                     "models": registry.versions()}, ()

    async def upload(self, scope: Scope, receive: Receive) -> Result:
        body = await read_body(receive, MAX_MODEL_BYTES)
        try:
            model = self.runtime.registry.add(body)
        except ArtifactError as exc:
            raise HTTPError(422, f"model refused: {exc}") from None
        return 201, {"version": model.version, "classes": list(model.slugs)}, ()

    async def model_action(self, scope: Scope, receive: Receive) -> Result:
        # models/{version}/activate
        parts = scope["path"].split("/")
        version, action = parts[-2], parts[-1]
        if action != "activate":
            raise HTTPError(404, f"no such model action {action!r}")
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
        return 200, {"active": model.version}, ()

    # -- segments --------------------------------------------------------------------------

    async def segments(self, scope: Scope, receive: Receive) -> Result:
        engine = self.runtime.engine
        active = engine.active
        if active is None:
            raise HTTPError(409, "no model is active")
        counts = engine.metrics.requests_by_class
        total = sum(counts.values()) or 1
        cards = active.model.segments()
        for card in cards:
            card["live_requests"] = counts.get(card["slug"], 0)
            card["live_percentage"] = round(100.0 * counts.get(card["slug"], 0) / total, 2)
        return 200, {"model": active.version, "segments": cards,
                     "undetermined_requests": counts.get("undetermined", 0)}, ()

    # -- sessions --------------------------------------------------------------------------

    async def session(self, scope: Scope, receive: Receive) -> Result:
        token = scope["path"].rsplit("/", 1)[-1]
        if not _TOKEN.match(token):
            raise HTTPError(400, "session id must be the session cookie's value")
        engine = self.runtime.engine
        session = engine.codec.verify(token)
        if session is None:
            raise HTTPError(400, "not a valid signed session id")
        now = engine.clock()
        state = engine.store.get(session, now)
        if state is None:
            raise HTTPError(404, "no live session with that id (expired or never seen)")
        out: dict[str, Any] = {"events": state.events_seen,
                               "started_at": state.started_at or None}
        active = engine.active
        if active is None:
            return 200, out, ()
        model = active.model
        extractor = FeatureExtractor(model.feature_names, model.transforms)
        x = extractor.vector(state, now)
        from classifiers.kernels import Scorer

        scorer = Scorer(model)  # its own buffers: the request path's are not touched
        winner, runner, confidence = scorer.score(x)
        d2 = scorer.d2.copy()
        margin = float(d2[runner] - d2[winner])
        undetermined = (state.events_seen < engine.options.min_events
                        or d2[winner] > model.radius2[winner])
        signals: list[dict[str, Any]] = []
        for f, name in enumerate(model.feature_names):
            value = raw_value(state, name, now)
            contrib = float(scorer.contrib[f])
            signals.append({"signal": name, "raw_value": round(value, 4),
                            "in_words": describe(name, value),
                            "contribution": round(contrib, 6),
                            "share": round(contrib / margin, 4) if margin > 0 else None})
        signals.sort(key=lambda s: -s["contribution"])
        out.update({
            "model": model.version,
            "class": "undetermined" if undetermined else model.slugs[winner],
            "nearest": model.slugs[winner], "runner_up": model.slugs[runner],
            "confidence": round(float(confidence), 4), "margin": round(margin, 6),
            "signals": signals,
            "distances": {slug: round(float(np.sqrt(v)), 4)
                          for slug, v in zip(model.slugs, d2.tolist(), strict=True)},
            "radius": round(float(np.sqrt(model.radius2[winner])), 4),
        })
        return 200, out, ()


def install(admin: AdminApp, runtime: Runtime) -> AdminAPI:
    api = AdminAPI(runtime)
    admin.add("GET", "api/models", api.models)
    admin.add("POST", "api/models", api.upload)
    admin.add("POST", "api/models/rollback", api.rollback)
    admin.add("POST", "api/models/*", api.model_action)
    admin.add("GET", "api/segments", api.segments)
    admin.add("GET", "api/sessions/*", api.session)
    return api
