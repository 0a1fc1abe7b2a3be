"""Builders for events, sessions, models and engines (as mitmproxy's test/tflow.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from classifiers.artifact import Model, load_model, seal
from proxy.engine import Engine, EngineOptions
from proxy.metrics import Metrics
from signals.bots import BotGate
from signals.events import EventKind, ShopperEvent
from signals.identity import IdentityCodec, IdentityReader
from signals.routes import RouteTable
from signals.state import SessionState, StateConfig
from signals.store import MemoryStore


def event(kind: EventKind | str, ts: float, product: str | None = None,
          category: str | None = None, query: str | None = None,
          value: float = 0.0) -> ShopperEvent:
    k = EventKind.from_slug(kind) if isinstance(kind, str) else kind
    return ShopperEvent(k, ts, product, category, query, value)


def make_session(*events: ShopperEvent, half_life: float = 600.0,
                 dwell_cap: float = 300.0) -> SessionState:
    state = SessionState(StateConfig(half_life=half_life, dwell_cap=dwell_cap))
    for ev in events:
        state.apply(ev)
    return state


def artifact_content(
    centroids: list[list[float]] | None = None,
    *,
    names: tuple[str, ...] | None = None,
    mean: list[float] | None = None,
    scale: list[float] | None = None,
    radius: float | list[float] = 3.0,
    temperature: float = 1.0,
    slugs: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """A valid artifact content dict (no version) built by hand, for tests without sklearn."""
    if centroids is None:
        centroids = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    k, d = len(centroids), len(centroids[0])
    names = names or ("product_views", "comparisons", "cart_adds", "searches", "deal_views",
                      "review_views")[:d]
    slugs = slugs or tuple(f"class-{i}" for i in range(k))
    radii = radius if isinstance(radius, list) else [radius] * k
    return {
        "created_at": "2026-11-22T10:00:00Z",
        "features": [{"name": n, "transform": "log1p"} for n in names],
        "scaler": {"mean": mean or [0.0] * d, "scale": scale or [1.0] * d},
        "temperature": temperature,
        "centroids": centroids,
        "classes": [
            {
                "slug": slugs[i], "display_name": f"Class {i}", "description": "d",
                "suggested_use": "u", "size": 10, "percentage": 100.0 / k, "radius": radii[i],
                "characteristics": [{"signal": names[0], "importance": 0.5, "value": 2.0,
                                     "population_value": 1.0, "z": 1.2}],
                "rules": [{"text": f"{names[0]} ≥ 3", "fidelity": 0.9}],
            }
            for i in range(k)
        ],
        "report": {"algorithm": "kmeans", "k_tried": [2, 3],
                   "silhouette_by_k": [{"k": 2, "silhouette": 0.3}, {"k": 3, "silhouette": 0.5}],
                   "data_source": "hand-made", "rows": 30},
    }


def make_model(centroids: list[list[float]] | None = None, **kw: Any) -> Model:
    """A sealed, loaded model from ``artifact_content`` (same keywords)."""
    return load_model(seal(artifact_content(centroids, **kw)))


# Two classes on (product_views, comparisons) in log1p space, far apart, wide radius: a session
# of product views is "browser", one of comparisons is "weigher". The slugs name no behaviour,
# so no requirement is derived and the class switch margin alone decides a change.
ENGINE_MODEL = {"centroids": [[1.6, 0.0], [0.0, 1.6]], "names": ("product_views", "comparisons"),
                "slugs": ("browser", "weigher"), "radius": 50.0}
ENGINE_SECRET = b"engine-test-secret-0123456789abc"
# The shop's URL scheme for engine tests: products, comparisons, a search, a cart add.
ENGINE_RULES: tuple[Mapping[str, Any], ...] = (
    {"kind": "product_view", "path": "/p/{product}"},
    {"kind": "compare", "path": "/compare"},
    {"kind": "search", "path": "/search", "query": {"q": "*"}, "capture": {"query": "q"}},
    {"kind": "cart_add", "method": "POST", "path": "/cart"},
)
BROWSER_UA = b"Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"


class Clock:
    """A hand-turned clock (``time.time`` shape): tests move time, nothing sleeps."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def make_engine(
    *,
    model: Model | None | bool = True,
    store: Any = None,
    clock: Clock | None = None,
    rules: Sequence[Mapping[str, Any]] = ENGINE_RULES,
    bot_max_rate: float = 1e12,
    metrics: Metrics | None = None,
    recorder: Any = None,
    observer: Any = None,
    **options: Any,
) -> Engine:
    """A ready engine with real parts (route table, identity, bot gate, memory store, metrics).

    ``model``: ``True`` activates ``ENGINE_MODEL``; a ``Model`` activates that one; ``None`` or
    ``False`` leaves the engine without a model. ``observer`` is handed each decision (the
    governance hook). ``options`` are ``EngineOptions`` fields; the time budget defaults to
    1000 s, so only a test that sets it meets the budget check.
    """
    options.setdefault("budget_ns", 10**12)
    clock = clock or Clock()
    codec = IdentityCodec(ENGINE_SECRET)
    opts = EngineOptions(**options)
    engine = Engine(
        options=opts,
        routes=RouteTable.from_config("none", list(rules)),
        codec=codec,
        reader=IdentityReader(codec, session_cookie=opts.session_cookie,
                              device_cookie=opts.device_cookie,
                              profile_cookie=opts.profile_cookie),
        bots=BotGate(max_rate=bot_max_rate),
        store=store if store is not None else MemoryStore(idle_ttl=opts.session_ttl,
                                                          half_life=opts.half_life),
        metrics=metrics or Metrics(),
        recorder=recorder,
        observer=observer,
        clock=clock,
    )
    if model is True:
        engine.activate(make_model(**ENGINE_MODEL))  # type: ignore[arg-type]
    elif isinstance(model, Model):
        engine.activate(model)
    return engine
