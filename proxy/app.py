"""Assembling the proxy: settings -> ready objects -> one ASGI callable, decided once.

Standalone: ``ProxyApp`` answers the lifespan (model loaded and kernels warmed, upstream client
opened — only then is traffic let in) and hands every request to
``IntentGateMiddleware(ForwardApp)``, whose admin router claims ``/_intentgate/``. Embedded:
``IntentGateMiddleware(user_app, config=...)`` builds the same runtime through ``build_runtime``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explain.audit import AuditLog, AuditPolicy, JsonlSink, RedisStreamSink
from explain.governance import Governance
from proxy.admin.surface import AdminApp
from proxy.config import Settings, from_handoff, load_settings
from proxy.engine import Engine, EngineOptions
from proxy.metrics import Metrics
from proxy.middleware import ADMIN_PREFIX
from proxy.models import ModelRegistry
from proxy.types import ASGIApp, Receive, Scope, Send
from signals.bots import BotGate
from signals.identity import IdentityCodec, IdentityReader
from signals.routes import RouteTable
from signals.store import MemoryStore
from signals.unmatched import UnmatchedRoutes

if TYPE_CHECKING:
    from proxy.forward import ForwardApp
    from signals.store import ProfileStore

logger = logging.getLogger("intentgate")

try:
    from importlib.metadata import version as _dist_version

    VERSION = _dist_version("intentgate")
except Exception:  # running from a source tree that was never installed
    VERSION = "0.0.0+src"


def load_secret(settings: Settings) -> bytes:
    """The HMAC secret: from settings/env, else generated once into the data directory.

    Several workers may start together: the file is created with O_EXCL, and a loser of the race
    reads the winner's secret.
    """
    if settings.secret:
        return settings.secret.encode()
    path = settings.data_path() / "secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as fh:
        fh.write(value.hex())
    logger.info("generated a new cookie-signing secret in %s", path)
    return value


@dataclass
class Runtime:
    """Everything built from settings, with the lifecycle the lifespan drives."""

    settings: Settings
    engine: Engine
    registry: ModelRegistry
    admin: AdminApp
    governance: Governance  # journal, live mix, drift, shadow, audit (the engine's observer)
    forward: ForwardApp | None = None  # the standalone proxy's forwarder (None: middleware)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    # Background services with ``async start()``/``aclose()`` (proxy.instance.attach).
    services: list[Any] = field(default_factory=list)
    modelsync: Any = None  # proxy.modelsync.ModelSync: one active model on every worker
    shared: Any = None  # proxy.admin.shared.SharedAdminState: admin state in Redis (or None)
    started: bool = False

    async def startup(self) -> None:
        if self.started:
            return
        self.started = True
        # Load the model and compile/warm the kernels before any request is let in (the
        # bench's bare passthrough classifies nothing and loads no model).
        if not self.settings.passthrough:
            self.registry.startup()
        if self.engine.recorder is not None:
            self.engine.recorder.open()
        store = self.engine.store
        if store.remote:
            await store.startup()
        if self.forward is not None:
            await self.forward.startup()
        for service in self.services:
            await service.start()
        # Everything built so far lives as long as the process: move it out of the cyclic
        # collector's sight, so collections triggered by per-request garbage stay cheap.
        gc.collect()
        gc.freeze()
        # Per-request garbage is acyclic and freed by reference counting; the session
        # journal and stores are long-lived. Collect the young generation less often and
        # the old one rarely, so no request waits behind a walk of every live session.
        gc.set_threshold(2_000, 10, 100)
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.registry.reload)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (tests, embedded servers): reload via the admin API

    async def aclose(self) -> None:
        for service in reversed(self.services):
            await service.aclose()
        if self.engine.experiments is not None:
            await self.engine.experiments.aclose()  # exported changes go before the audit log
        await self.governance.aclose()  # buffered audit records are written first
        if self.admin.audit is not None:
            await self.admin.audit.aclose()
        for task in self.tasks:
            task.cancel()
        if self.forward is not None:
            await self.forward.aclose()
        if self.engine.store.remote:
            await self.engine.store.aclose()
        if self.engine.recorder is not None:
            self.engine.recorder.close()


def build_runtime(config: Any = None, *, forward: bool = False) -> Runtime:
    """Settings (a ``Settings``, a dict of settings, or ``None`` for defaults + environment)
    turned into ready objects, each built once with its parts passed in; ``forward``: also the
    standalone proxy's forwarder towards ``settings.upstream``. Raises
    ``ConfigError``/``RuleError`` for bad settings."""
    if isinstance(config, Settings):
        settings = config
    else:
        settings = load_settings(overrides=dict(config or {}))
    # Everything that can reject the settings runs before anything is written to disk.
    routes = RouteTable.from_config(settings.preset, list(settings.rules))
    logger.info("route rules loaded: %s", ", ".join(
        f"{n} from {'the config file' if src == 'rules' else src}"
        for src, n in routes.counts_by_source().items()) or "none")
    secret = load_secret(settings)
    codec = IdentityCodec(secret)
    reader = IdentityReader(
        codec,
        session_cookie=settings.session_cookie,
        device_cookie=settings.device_cookie,
        profile_cookie=settings.profile_cookie,
    )
    metrics = Metrics()
    store = build_store(settings, codec, metrics)
    clock = time.time
    governance = build_governance(settings, store, codec, clock)
    from proxy.experiments import build_experiments

    experiments = build_experiments(settings, store, codec.pseudonym, governance.audit, clock)
    recorder = None
    if settings.record_events:
        from proxy.recorder import EventRecorder

        recorder = EventRecorder(
            Path(settings.record_dir or settings.data_path() / "events"),
            codec=codec,
            max_bytes=settings.record_max_bytes,
            keep=settings.record_keep,
            allow_query_text=settings.record_query_text,
            tagger=experiments.tags,
        )
    options = EngineOptions(
        header_prefix=settings.header_prefix.lower().encode(),
        identify_header=settings.identify_header.lower().encode(),
        session_cookie=settings.session_cookie.encode(),
        device_cookie=settings.device_cookie.encode(),
        session_ttl=int(settings.session_ttl),
        device_ttl=int(settings.device_ttl),
        profile_cookie=settings.profile_cookie.encode(),
        profile_ttl=int(settings.profile_ttl),
        min_events=settings.min_events,
        budget_ns=int(settings.budget_ms * 1e6),
        top_signals=settings.top_signals,
        class_switch_margin=settings.class_switch_margin,
        half_life=settings.half_life,
        expose_headers=settings.expose_headers,
        trusted_hops=frozenset(settings.trusted_hops),
    )
    engine = Engine(
        options=options, routes=routes, codec=codec, reader=reader,
        bots=BotGate(max_rate=settings.bot_max_rate), store=store, metrics=metrics,
        recorder=recorder, observer=governance, experiments=experiments,
        # Bounded; drained when the admin API asks.
        unmatched=UnmatchedRoutes(sniff=settings.sniff_page_types), clock=clock,
    )
    model_dir = Path(settings.model_dir) if settings.model_dir else settings.data_path() / "models"
    # The engine holds the model it serves; the registry reads it from there (one truth).
    registry = ModelRegistry(model_dir, engine, model_file=settings.model)
    admin = build_admin(settings, engine)
    metrics.gauge("intentgate_model_info", "Active model version.",
                  lambda: {f"version={engine.active.version}": 1.0} if engine.active else {})
    runtime = Runtime(settings=settings, engine=engine, registry=registry, admin=admin,
                      governance=governance,
                      forward=build_forward(settings, engine) if forward else None)
    from proxy.admin.api import install
    from proxy.experiments import install as install_experiments

    install(admin, runtime)
    install_experiments(admin, runtime)
    from proxy.instance import attach

    attach(runtime, VERSION)
    return runtime


def build_governance(settings: Settings, store: ProfileStore, codec: IdentityCodec,
                     clock: Any) -> Governance:
    """Governance from settings: the bounded queue behind the request path that keeps the
    session journal, live mix, drift, shadow scoring and the decision audit."""
    audit = None
    if settings.audit:
        retention = settings.audit_retention_days * 86400.0
        sink: Any
        if settings.store == "redis":
            # The store's client: same server or Cluster, same short deadlines.
            sink = RedisStreamSink(store.client, key=f"{settings.redis_prefix}:audit",
                                   maxlen=settings.audit_stream_maxlen,
                                   retention_s=retention, write_client=store.write_client)
        else:
            directory = settings.audit_dir or settings.data_path() / "audit"
            # Several workers: one file per worker, merged when read (proxy.instance).
            from proxy.instance import instance_dir

            writer = os.getpid() if instance_dir() is not None else None
            sink = JsonlSink(Path(directory), max_bytes=settings.audit_max_bytes,
                             keep=settings.audit_keep, retention_s=retention, writer=writer)
        audit = AuditLog(sink, capacity=settings.audit_queue,
                         policy=AuditPolicy(settings.audit_sample_rate))
    return Governance(pseudonym=codec.pseudonym, min_events=settings.min_events,
                      audit=audit, clock=clock)


def build_admin(settings: Settings, engine: Engine) -> AdminApp:
    """The admin surface: its listener, allow-list and tokens, and its action audit."""
    from proxy.admin.audit import AdminAudit
    from proxy.admin.auth import AdminGuard
    from proxy.admin.listener import AdminListen

    guard = AdminGuard.from_settings(settings)
    audit = AdminAudit.from_settings(
        settings, engine.store.client if settings.store == "redis" else None)
    engine.metrics.gauge("intentgate_admin_refusals", "Admin requests refused, by reason "
                         "(address, throttled, token, role, disabled).", guard.stats)
    engine.metrics.gauge("intentgate_admin_actions", "Admin action audit records written "
                         "and failed writes.", audit.stats)
    return AdminApp(engine, store_name=settings.store, version=VERSION, guard=guard,
                    audit=audit, listen=AdminListen.parse(settings.admin_listen))


def build_store(settings: Settings, codec: IdentityCodec, metrics: Metrics) -> Any:
    """The profile store named by ``settings.store``, with its metrics registered."""
    # What both stores are told: how many states they hold, how state decays, how long
    # profiles and merge undo records live.
    common: dict[str, Any] = {
        "capacity": settings.memory_capacity, "half_life": settings.half_life,
        "dwell_cap": settings.dwell_cap, "profile_ttl": settings.profile_ttl,
        "undo_ttl": settings.merge_undo_ttl}
    if settings.store == "redis":
        from signals.redis_store import RedisStore

        redis = RedisStore.connect(
            settings.redis_url, timeout=settings.redis_timeout_ms / 1000.0,
            pseudonym=codec.pseudonym, prefix=settings.redis_prefix,
            session_ttl=settings.session_ttl, flush_interval=settings.redis_flush_ms / 1000.0,
            refresh_after=settings.redis_refresh_s, backlog=settings.redis_backlog, **common)
        metrics.gauge("intentgate_store_entries", "States held locally.",
                      lambda: float(len(redis)))
        metrics.gauge("intentgate_redis", "Redis store: up (breaker closed), breaker trips, "
                      "backlog of unsynced profiles, overflow, fetches, flushes, errors.",
                      lambda: {f"stat={k}": float(v) for k, v in redis.stats().items()
                               if k not in ("capacity",)})
        return redis
    memory = MemoryStore(idle_ttl=settings.session_ttl, **common)
    metrics.gauge("intentgate_store_entries", "Session states held in memory.",
                  lambda: float(len(memory)))
    metrics.gauge("intentgate_store_ops", "Memory store hits, misses, evictions, expirations.",
                  lambda: {f"op={k}": float(v) for k, v in memory.stats().items()
                           if k in ("hits", "misses", "evictions", "expirations")})
    return memory


class ProxyApp:
    """The standalone proxy's ASGI callable: lifespan here, everything else to ``inner``."""

    def __init__(self, runtime: Runtime, inner: ASGIApp) -> None:
        self.runtime = runtime
        self.inner = inner
        # WebSocket upgrades go through as a byte tunnel (proxy.server calls ws_tunnel), except
        # on the admin listener, which forwards nothing to the origin.
        self._admin_port: int | None = getattr(inner, "port", None)
        self.ws_tunnel = self._tunnel if runtime.forward is not None else None
        # A shopper's request (http, not under /_intentgate/, not on the admin listener) goes
        # straight to the forwarder, which classifies in its own walk over the headers: the
        # layers in between (admin listener, middleware) would only hand it on, at ~0.4 µs
        # per coroutine frame. Decided once, here: the forwarder must be ``inner`` itself or
        # the app the middleware wraps with the engine attached.
        forward = runtime.forward
        self._forward_http = (
            forward._http if forward is not None and (
                inner is forward or getattr(forward, "engine", None) is runtime.engine)
            else None)

    def _tunnel(self, transport: Any, method: bytes, target: bytes, headers: Any, client: Any,
                scheme: str, early: bytes, server: Any = None) -> None:
        if self._admin_port is not None and server is not None and server[1] == self._admin_port:
            transport.write(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n"
                            b"connection: close\r\n\r\n")
            transport.close()
            return
        assert self.runtime.forward is not None  # ws_tunnel is set only with a forwarder
        self.runtime.forward.tunnel(transport, method, target, headers, client, scheme, early)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            fast = self._forward_http
            if fast is not None and not scope["path"].startswith(ADMIN_PREFIX):
                server = scope.get("server")
                if server is None or server[1] != self._admin_port:
                    await fast(scope, receive, send)
                    return
            await self.inner(scope, receive, send)
            return
        if kind != "lifespan":
            await self.inner(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.runtime.startup()
                except Exception as exc:
                    # uvicorn prints this message once; logging it here too printed it twice.
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.runtime.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_forward(settings: Settings, engine: Engine) -> ForwardApp:
    """The forwarder towards ``settings.upstream``. Unless this is the bench's bare
    passthrough, classification happens in its one walk over the headers (the middleware in
    front routes the admin surface and hands every other request straight on)."""
    from proxy.forward import ForwardApp, Timeouts

    assert settings.upstream is not None
    return ForwardApp(
        settings.upstream,
        timeouts=Timeouts(
            connect=settings.connect_timeout, read=settings.read_timeout,
            pool=settings.pool_timeout,
        ),
        max_body_bytes=settings.max_body_bytes,
        preserve_host=settings.preserve_host,
        trusted_hops=frozenset(settings.trusted_hops),
        pool_size=settings.pool_size,
        metrics=engine.metrics,
        strip_prefix=settings.header_prefix.lower().encode(),
        engine=None if settings.passthrough else engine,
    )


def create_app(settings: Settings) -> ProxyApp:
    """The standalone proxy for ``settings`` (``settings.upstream`` must be set)."""
    from proxy.admin.listener import AdminListen, AdminPortApp, resolve
    from proxy.middleware import IntentGateMiddleware

    if settings.upstream is None:
        raise ValueError("upstream is required to serve as a reverse proxy")
    settings = resolve(settings)  # unset admin_listen: the default localhost listener
    listen = AdminListen.parse(settings.admin_listen)
    if listen is None:
        logger.warning("admin_listen = public: the admin API, metrics and the merchandiser "
                       "page are served on the shoppers' port; only tokens guard them")
    runtime = build_runtime(settings, forward=True)
    forward = runtime.forward
    assert forward is not None
    if settings.passthrough:
        # The bench's bare passthrough: same server stack and forwarding, no classification.
        return ProxyApp(runtime, forward)
    inner: ASGIApp = IntentGateMiddleware(forward, engine=runtime.engine, admin=runtime.admin)
    if listen is not None:
        inner = AdminPortApp(inner, runtime.admin, listen)
    return ProxyApp(runtime, inner)


def create_app_from_environ() -> ProxyApp:
    """uvicorn ``--workers`` factory: settings arrive through the handoff variable. A worker is
    a fresh process, so the server protocol's limits are set here again from those settings."""
    from proxy.server import HardenedHttpToolsProtocol, ServerLimits

    settings = from_handoff()
    HardenedHttpToolsProtocol.limits = ServerLimits.from_settings(settings)
    return create_app(settings)
