"""One instance, several workers: what the worker processes of one ``intentgate serve --workers N``
share, and how a scrape of any of them answers for all.

The supervisor (``intentgate serve`` with more than one worker) makes a private directory for
the instance and names it in ``INTENTGATE__INSTANCE``; it lives as long as the supervisor. Every
worker writes there, atomically (write + rename), a snapshot of its own counters and histograms
every ``interval`` seconds and when it stops. A scrape answered by any worker writes its own
snapshot fresh, reads the others' and renders their sum: counters summed, histograms merged
bucket by bucket, gauges labelled by worker. A worker that exited keeps its file, so its counts
stay in the sums (a restarted worker starts from zero beside it): the instance's counters never
go backwards while the supervisor runs. The request path pays nothing for this: it bumps plain
ints as before; the comparison with ``prometheus_client``'s multiprocess mode is in
``docs/deployment.md``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from proxy.metrics import Metrics
from signals.background import Periodic

if TYPE_CHECKING:
    from proxy.app import Runtime

logger = logging.getLogger(__name__)

INSTANCE_ENV = "INTENTGATE__INSTANCE"


def instance_dir(environ: dict[str, str] | None = None) -> Path | None:
    """The instance's shared directory, or None for a single-process server or middleware."""
    raw = (os.environ if environ is None else environ).get(INSTANCE_ENV)
    return Path(raw) if raw else None


def worker_id() -> str:
    """This worker's name, unique among the live workers of every instance on every host."""
    return f"{socket.gethostname()}-{os.getpid()}"


def atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class MetricsShare:
    """This worker's snapshot file in the instance directory, and the merged rendering."""

    def __init__(self, directory: Path, metrics: Metrics, *, interval: float = 0.5) -> None:
        self.directory = directory
        self.metrics = metrics
        self.interval = interval
        self.pid = os.getpid()
        self.path = directory / f"metrics-{self.pid}.json"
        self.errors = 0
        self._writer = Periodic("intentgate-metrics-share", interval, self.write,
                                lambda exc: logger.error("metrics share failed: %r", exc))

    def write(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, orjson.dumps(self.metrics.snapshot()))
        except OSError as exc:
            self.errors += 1
            logger.warning("metrics snapshot %s not written: %s", self.path, exc)

    def snapshots(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every worker's snapshot, this one's fresh: live workers first (with their names),
        then those that exited."""
        own = self.metrics.snapshot()
        with contextlib.suppress(OSError):
            atomic_write(self.path, orjson.dumps(own))
        live: list[tuple[int, dict[str, Any]]] = [(self.pid, own)]
        dead: list[dict[str, Any]] = []
        for path in sorted(self.directory.glob("metrics-*.json")):
            try:
                pid = int(path.stem.split("-", 1)[1])
            except ValueError:
                continue
            if pid == self.pid:
                continue
            try:
                snap = orjson.loads(path.read_bytes())
            except (OSError, orjson.JSONDecodeError):
                continue  # written by rename: never torn; gone means nothing to add
            if pid_alive(pid):
                live.append((pid, snap))
            else:
                dead.append(snap)
        live.sort(key=lambda p: p[0])
        return [s for _, s in live] + dead, [str(p) for p, _ in live]

    def render(self) -> bytes:
        snaps, names = self.snapshots()
        info = self.metrics.info() if self.metrics.info is not None else None
        return self.metrics.render_merged(snaps, per_worker=names, info=info)

    async def start(self) -> None:
        self.write()
        self._writer.start()

    async def aclose(self) -> None:
        await self._writer.stop()
        self.write()  # the final counts of this worker stay in the instance's sums


def attach(runtime: Runtime, version: str) -> None:
    """Hook the instance-wide services into ``runtime``: build info on every scrape, and with
    an instance directory the merged metrics."""
    engine = runtime.engine
    metrics = engine.metrics

    def info() -> dict[str, str]:
        active = engine.active
        return {"version": version, "model": active.version if active is not None else ""}

    metrics.info = info
    from proxy.modelsync import ModelSync

    settings = runtime.settings
    redis = engine.store.client if settings.store == "redis" else None
    sync = ModelSync(runtime, redis=redis, prefix=settings.redis_prefix)
    runtime.modelsync = sync
    runtime.services.append(sync)
    runtime.admin.health_info = sync.health
    metrics.gauge("intentgate_model_sync", "Model sync of this worker: behind (1: cannot load "
                  "the version it was told to serve, keeps the old one), load failures, "
                  "errors reaching the model record in redis.", lambda: {
                      f"stat={k}": v for k, v in sync.stats().items()})
    if settings.store == "redis" and redis is not None and runtime.governance is not None:
        from proxy.admin.shared import SharedAdminState

        shared = SharedAdminState(redis, runtime.governance, prefix=settings.redis_prefix,
                                  session_ttl=settings.session_ttl,
                                  cluster=engine.store.cluster,
                                  write_client=engine.store.write_client)
        runtime.shared = shared
        runtime.services.append(shared)
        metrics.gauge("intentgate_shared_admin", "Admin state written behind to redis: up, "
                      "sessions pending, dropped while redis was away, flushes, errors.",
                      lambda: {f"stat={k}": v for k, v in shared.stats().items()})
    directory = instance_dir()
    if directory is not None:
        if engine.recorder is not None:
            engine.recorder.writer = os.getpid()  # its own events-<pid>.jsonl
        share = MetricsShare(directory, metrics)
        metrics.share = share
        runtime.services.append(share)
