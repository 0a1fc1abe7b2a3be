"""In-process micro-benchmarks of the classification step, printed by ``intentgate bench``.

Each figure is the p50/p99 of single calls timed with ``perf_counter_ns`` (the timer's own cost,
~50 ns, is included), after a warm-up. A group whose modules are missing is reported as skipped,
with the reason, and the rest still run.
"""

from __future__ import annotations

import gc
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

BROWSER_UA = b"Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"
PATHS = (
    ("/products/phone-pro", b""), ("/collections/laptops", b"sort_by=price-ascending"),
    ("/search", b"q=camera"), ("/pages/compare", b"products=phone-pro,phone-lite"),
    ("/products/tripod/reviews", b""), ("/", b""), ("/collections/audio", b""),
)


def _time(fn: Callable[[int], Any], n: int) -> dict[str, float]:
    for i in range(min(n, 2000)):
        fn(i)
    samples = np.empty(n, dtype=np.int64)
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for i in range(n):
            t0 = clock()
            fn(i)
            samples[i] = clock() - t0
    finally:
        gc.enable()
    return {"p50_us": float(np.percentile(samples, 50)) / 1e3,
            "p99_us": float(np.percentile(samples, 99)) / 1e3, "n": n}


def _skip(out: dict[str, dict[str, Any]], names: tuple[str, ...], exc: Exception) -> None:
    reason = (f"{exc.name} not importable" if isinstance(exc, ImportError) and exc.name
              else f"{type(exc).__name__}: {exc}")
    for name in names:
        out[name] = {"skipped": reason}


def run_all(n: int = 100_000) -> dict[str, dict[str, Any]]:
    """Every micro-benchmark; a group whose modules are missing (or broken) is reported as
    ``{"skipped": reason}`` and the others still run."""
    out: dict[str, dict[str, Any]] = {}
    cookies: list[bytes] = []

    try:
        from signals.routes import RouteTable

        routes = RouteTable.from_config("auto")
        out["route match (auto preset)"] = _time(
            lambda i: routes.match("GET", PATHS[i % 7][0], PATHS[i % 7][1], 1000.0 + i), n)
    except Exception as exc:
        _skip(out, ("route match (auto preset)",), exc)

    try:
        from signals.identity import IdentityCodec, IdentityReader

        codec = IdentityCodec(b"b" * 32)
        reader = IdentityReader(codec)
        cookies = [f"ig_sid={codec.new_token()}; ig_did={codec.new_token()}".encode()
                   for _ in range(1000)]
        out["identity (signed cookies)"] = _time(lambda i: reader.read([cookies[i % 1000]]), n)
    except Exception as exc:
        _skip(out, ("identity (signed cookies)",), exc)

    events: list[Any] = []
    model_steps = ("state update", "feature extraction", "kernel incl. Python call",
                   "signals header value")
    try:
        from signals.events import EventKind, ShopperEvent
        from signals.state import SessionState

        state = SessionState()
        events = [ShopperEvent(EventKind(k % 12), 0.0, product=f"p{k % 9}") for k in range(12)]
        out["state update"] = _time(
            lambda i: state.apply(events[i % 12]._replace(ts=1e3 + i)), n)

        from classifiers.artifact import load_model
        from classifiers.kernels import Scorer
        from explain.headers import SignalsHeader
        from proxy.models import bundled_model_bytes
        from signals.features import FeatureExtractor

        model = load_model(bundled_model_bytes())
        ex = FeatureExtractor(model.feature_names, model.transforms)
        x = np.zeros(len(model.feature_names))
        out["feature extraction"] = _time(lambda i: ex.extract(state, 1e3 + n + i, x), n)

        scorer = Scorer(model, 0.25, 3)
        scorer.warm()
        out["kernel incl. Python call"] = _time(lambda i: scorer.score(x), n)

        key = scorer.score(x)[3]
        header = SignalsHeader(tuple(model.feature_names), 3)
        out["signals header value"] = _time(lambda i: header(key, scorer.evidence), n)
    except Exception as exc:
        _skip(out, tuple(s for s in model_steps if s not in out), exc)

    steps = ("whole classification step", "step + governance bookkeeping",
             "step + governance + experiment")
    try:
        from proxy.app import build_runtime

        if not cookies:
            raise RuntimeError("needs signals.identity")
        with tempfile.TemporaryDirectory(prefix="intentgate-micro-") as data_dir:
            runtime = build_runtime({"secret": "b" * 32, "bot_max_rate": 1e12,
                                     "data_dir": data_dir})
            runtime.registry.startup()
            engine = runtime.engine
            clock = [1e6]

            def step(i: int) -> Any:
                clock[0] += 0.001
                path, qs = PATHS[i % 7]
                return engine.classify("GET", path, qs, [cookies[i % 1000]], BROWSER_UA, True,
                                       True, False)

            engine.clock = lambda: clock[0]
            observer, engine.observer = engine.observer, None
            out[steps[0]] = _time(step, n)
            engine.observer = observer  # journal, live mix, drift, shadow, audit queue
            if observer is not None:
                out[steps[1]] = _time(step, n)
            else:
                out[steps[1]] = {"skipped": "no governance observer in this build"}
            experiments = getattr(engine, "experiments", None)
            if experiments is not None:
                # A holdout experiment running: group lookup, two headers, outcome counters.
                experiments.start("micro", 0.1)
                out[steps[2]] = _time(step, n)
                experiments.stop()
            else:
                out[steps[2]] = {"skipped": "no experiments in this build"}
    except Exception as exc:
        _skip(out, tuple(s for s in steps if s not in out), exc)

    redis_steps = ("step, redis store, state local", "step, redis store, first contact")
    try:
        if not cookies:
            raise RuntimeError("needs signals.identity")
        out.update(_redis_steps(cookies, min(n, 20_000)))
    except Exception as exc:
        _skip(out, tuple(s for s in redis_steps if s not in out), exc)

    clients = ("redis round trip CPU, lean client", "redis round trip CPU, redis-py")
    try:
        out.update(_redis_clients(clients))
    except Exception as exc:
        _skip(out, clients, exc)

    try:
        from signals.store import MemoryStore

        if not events:
            raise RuntimeError("needs signals.state")
        out["memory store"] = _memory_per_session(MemoryStore, events)
    except Exception as exc:
        _skip(out, ("memory store",), exc)
    return out


def _redis_steps(cookies: list[bytes], n: int, url: str = "redis://127.0.0.1:6379/15",
                 flush_ms: float = 5.0) -> dict[str, dict[str, Any]]:
    """The classification step with the Redis store on loopback, timed per request including
    the awaited fetch when the state is not local (the flusher runs between requests, as in
    the proxy). ``first contact``: sessions another process wrote to Redis, seen here for the
    first time (one round trip each); ``state local``: the same sessions afterwards."""
    import asyncio
    import os

    from proxy.app import build_runtime
    from proxy.engine import Fetch

    prefix = f"igmicro{os.getpid()}"

    async def run() -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory(prefix="intentgate-micro-") as data_dir:
            settings = {"secret": "b" * 32, "bot_max_rate": 1e12, "data_dir": data_dir,
                        "store": "redis", "redis_url": url, "redis_prefix": prefix,
                        "audit": False, "redis_flush_ms": flush_ms}
            writer, reader = build_runtime(settings), build_runtime(settings)
            for rt in (writer, reader):
                rt.registry.startup()
                await rt.engine.store.startup()
            try:
                for i, c in enumerate(cookies):  # the sessions exist in Redis, not in reader
                    writer.engine.classify("GET", PATHS[i % 7][0], PATHS[i % 7][1], [c],
                                           BROWSER_UA, True, True, False)
                await writer.engine.store.flush()
                engine = reader.engine
                engine.observer = None  # as "whole classification step": no governance

                async def timed(count: int) -> tuple[list[float], int]:
                    samples: list[float] = []
                    trips = 0
                    for i in range(count):
                        path, qs = PATHS[i % 7]
                        c = [cookies[i % len(cookies)]]
                        t0 = time.perf_counter()
                        d = engine.classify("GET", path, qs, c, BROWSER_UA, True, True, False)
                        if isinstance(d, Fetch):
                            trips += 1
                            await engine.fetch(d.key)
                            d = engine.classify("GET", path, qs, c, BROWSER_UA, True, True,
                                                False, True)
                        samples.append(time.perf_counter() - t0)
                        if i % 16 == 0:
                            await asyncio.sleep(0)  # let the flusher run, off the clock
                    return samples, trips

                first, trips = await timed(len(cookies))
                out["step, redis store, first contact"] = {
                    **_pcts(first), "round_trips_per_request": round(trips / len(first), 3)}
                local, trips = await timed(n)
                out["step, redis store, state local"] = {
                    **_pcts(local), "round_trips_per_request": round(trips / len(local), 4)}
            finally:
                for rt in (writer, reader):
                    await rt.engine.store.aclose()
                import redis

                client = redis.Redis.from_url(url)
                for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                    client.delete(key)
                client.close()
        return out

    return asyncio.run(run())


def _redis_clients(names: tuple[str, str], url: str = "redis://127.0.0.1:6379/15",
                   n: int = 3000) -> dict[str, dict[str, Any]]:
    """Client CPU per ``EVALSHA`` round trip (the store's fetch: six keys, one argument string)
    through the lean client the store uses (``signals.resp``) and through redis-py's asyncio
    client, alternating, from one caller on loopback. Process CPU time, so Redis's own work and
    the wait for it are not counted; the kernel's work for our socket is."""
    import asyncio

    from redis.asyncio import Redis

    from signals.resp import lean_for

    keys = [f"igmicro:{{c}}:{s}" for s in "hpcmdq"]

    async def run() -> dict[str, dict[str, Any]]:
        slow = Redis.from_url(url)
        lean = lean_for(url, 1.0)
        assert lean is not None
        try:
            sha = await slow.script_load("return {ARGV[1], #KEYS}")
            args = ("EVALSHA", sha, 6, *keys, "1.5", "600.0", "604800", "32", "16", "1800 w 0 0")
            cpu: dict[str, list[float]] = {names[0]: [], names[1]: []}
            for _ in range(3):
                pairs: list[tuple[str, Any]] = [(names[0], lean), (names[1], slow)]
                for name, client in pairs:
                    c0 = time.process_time()
                    for _ in range(n // 3):
                        await client.execute_command(*args)
                    cpu[name].append((time.process_time() - c0) / (n // 3) * 1e6)
            return {name: {"cpu_us_per_call": round(sorted(v)[1], 1)}
                    for name, v in cpu.items()}
        finally:
            await lean.aclose()
            await slow.aclose()

    return asyncio.run(run())


def _pcts(samples: list[float]) -> dict[str, float]:
    xs = sorted(samples)
    return {"p50_us": round(xs[len(xs) // 2] * 1e6, 2),
            "p99_us": round(xs[int(len(xs) * 0.99)] * 1e6, 2)}


def _memory_per_session(store_cls: Any, events: list[Any], k: int = 50_000) -> dict[str, Any]:
    """Bytes traced per session after ``k`` sessions with one event each."""
    store = store_cls(capacity=200_000)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(k):
            st, _ = store.get_or_create(f"session-token-{i:020d}", 1e6)
            st.apply(events[i % 12]._replace(ts=1e6))
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return {"bytes_per_session": round((after - before) / k), "sessions": k}
