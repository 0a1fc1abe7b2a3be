"""One active model everywhere: every worker of every instance follows the deployment's choice.

The choice is recorded durably before the admin API answers:
- always in the model directory: ``ACTIVE`` (the activation history, newest last, written by
  rename and fsync'd) and ``SHADOW`` (the shadow candidate's version, or empty);
- with the Redis store also in Redis: ``<prefix>:models:control`` (the same history and shadow
  as JSON) and ``<prefix>:models:artifact:<version>`` (the artifact, so an instance whose
  model directory lacks that version fetches it).

Every worker checks it every ``interval`` seconds (a stat-sized read of two small files, and one
GET when the store is Redis), off the request path. A missed check is caught by the next one and
a restarted worker reads the same record, so nothing depends on a message arriving. When Redis
answers it is the truth and the local files are brought in line with it; when it does not, the
local files decide. A worker that cannot load the version it is told to keeps serving the one it
has, says so in ``health`` and in ``intentgate_model_sync{stat="behind"}``, and tries again at
most every ``retry_s`` seconds.

Each worker reports what it serves (``model_dir/.workers/<worker>.json``, and the Redis hash
``<prefix>:models:workers``) once a second; the admin answer lists those reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from classifiers.artifact import Model, load_model
from classifiers.errors import ArtifactError
from proxy.instance import atomic_write, worker_id
from proxy.models import read_model_file
from signals.background import Periodic

if TYPE_CHECKING:
    from proxy.app import Runtime

logger = logging.getLogger(__name__)

_HISTORY_KEEP = 50
REPORT_EVERY_S = 1.0
ALIVE_S = 4.0  # a report older than this is of a worker that is gone


class SyncUnavailable(Exception):
    """The shared record (Redis) could not be written: nothing was changed."""


def _fsync_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class ModelSync:
    """This worker's follower task plus the writers the admin API calls."""

    def __init__(
        self, runtime: Runtime, *, interval: float = 0.25, retry_s: float = 5.0,
        redis: Any = None, prefix: str = "ig",
    ) -> None:
        self.runtime = runtime
        self.registry = runtime.registry
        self.directory: Path = runtime.registry.directory
        self.interval = interval
        self.retry_s = retry_s
        self.redis = redis
        self.key = f"{prefix}:models:control"
        self.artifact_prefix = f"{prefix}:models:artifact:"
        self.workers_key = f"{prefix}:models:workers"
        self.worker = worker_id()
        self.wanted: str | None = None  # the version this worker was told to serve
        self.wanted_shadow: str | None = None
        self.error: str | None = None  # why it does not serve ``wanted``
        self.load_failures = 0
        self.redis_errors = 0
        self.redis_up = redis is not None
        self._failed: dict[str, float] = {}  # version -> when its load last failed
        self._reported_at = -1e18
        self._follower = Periodic("intentgate-model-sync", interval, self.follow,
                                  lambda exc: logger.error("model sync pass failed: %r", exc))
        self._lock = asyncio.Lock()

    # -- the record -------------------------------------------------------------------------

    @property
    def _active_path(self) -> Path:
        return self.directory / "ACTIVE"

    @property
    def _shadow_path(self) -> Path:
        return self.directory / "SHADOW"

    def _read_local(self) -> tuple[list[str], str | None]:
        history = self.registry.versions_history()
        try:
            shadow = self._shadow_path.read_text().strip() or None
        except FileNotFoundError:
            shadow = None
        return history, shadow

    def _raw_history(self) -> list[str]:
        return self.registry.history()  # lines as stored ("<version>[ bundled]")

    def _write_local(self, history: list[str], shadow: str | None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        raw = self._raw_history()
        marks = {h.split()[0]: h for h in raw}  # keeps a "<version> bundled" line as it is
        lines = [marks.get(v, v) for v in history[-_HISTORY_KEEP:]]
        if [h.split()[0] for h in raw] != history[-_HISTORY_KEEP:]:
            _fsync_write(self._active_path, ("\n".join(lines) + "\n").encode())
        current_shadow = self._read_local()[1]
        if current_shadow != shadow:
            _fsync_write(self._shadow_path, (shadow or "").encode())

    async def _read_redis(self) -> tuple[list[str], str | None] | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(self.key)
        except Exception as exc:
            self._redis_failed(exc)
            return None
        self.redis_up = True
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
            return [str(v) for v in data["history"]], data.get("shadow")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None

    def _redis_failed(self, exc: BaseException) -> None:
        if self.redis_up:
            logger.warning("model record in redis unreachable, following the local files: %r",
                           exc)
        self.redis_up = False
        self.redis_errors += 1

    async def _record(self, history: list[str], shadow: str | None,
                      artifacts: list[Model]) -> None:
        """Write the choice durably: Redis first (when configured), then the local files."""
        history = history[-_HISTORY_KEEP:]
        if self.redis is not None:
            try:
                pipe = self.redis.pipeline(transaction=False)
                for m in artifacts:
                    pipe.set(self.artifact_prefix + m.version, m.to_bytes())
                pipe.set(self.key, orjson.dumps({"history": history, "shadow": shadow,
                                                 "at": time.time()}))
                await pipe.execute()
            except Exception as exc:
                self._redis_failed(exc)
                raise SyncUnavailable(f"redis did not take the model record: {exc!r}") from exc
        self._write_local(history, shadow)

    async def _current(self) -> tuple[list[str], str | None]:
        got = await self._read_redis()
        return got if got is not None else self._read_local()

    # -- loading ------------------------------------------------------------------------------

    async def _load(self, version: str) -> Model:
        """The artifact of ``version``: the local file, else Redis (kept locally after)."""
        try:
            path = self.registry.path_of(version)
        except KeyError:
            raise ArtifactError(f"not a model version: {version!r}") from None
        if path.exists():
            return read_model_file(path)
        if self.redis is not None:
            try:
                data = await self.redis.get(self.artifact_prefix + version)
            except Exception as exc:
                self._redis_failed(exc)
                raise ArtifactError(f"model {version} not here and redis unreachable") from exc
            if data is not None:
                model = load_model(bytes(data))
                if model.version != version:
                    raise ArtifactError(f"redis holds another model under {version}")
                with contextlib.suppress(OSError):
                    self.registry.store(model)
                return model
        raise ArtifactError(f"no model version {version!r} in {self.directory}")

    def _serving(self) -> str | None:
        active = self.runtime.engine.active
        return active.version if active is not None else None

    def _shadow_serving(self) -> str | None:
        gov = self.runtime.governance
        shadow = gov.shadow if gov is not None else None
        return shadow.candidate.version if shadow is not None else None

    async def follow(self) -> None:
        """One pass: read the record, load what differs, report."""
        if self.runtime.settings.passthrough:
            return
        history, shadow = await self._current()
        if history:
            self.wanted = history[-1]
            if self.redis_up and self.redis is not None:
                with contextlib.suppress(OSError):
                    self._write_local(history, shadow)  # keep the local files in line
        self.wanted_shadow = shadow
        now = time.monotonic()
        if self.wanted is not None and self.wanted != self._serving():
            if now - self._failed.get(self.wanted, -1e18) >= self.retry_s:
                try:
                    model = await self._load(self.wanted)
                    self.registry.use(model)
                    self.error = None
                    self._failed.pop(self.wanted, None)
                except (ArtifactError, OSError) as exc:
                    self._failed[self.wanted] = now
                    self.load_failures += 1
                    self.error = f"cannot load {self.wanted}, keeping {self._serving()}: {exc}"
                    logger.error("model sync: %s", self.error)
        elif self.wanted == self._serving():
            self.error = None
        gov = self.runtime.governance
        if gov is not None and shadow != self._shadow_serving():
            if shadow is None:
                gov.stop_shadow()
            elif now - self._failed.get("shadow:" + shadow, -1e18) >= self.retry_s:
                try:
                    gov.start_shadow(await self._load(shadow), self.runtime.engine.clock())
                except (ArtifactError, OSError) as exc:
                    self._failed["shadow:" + shadow] = now
                    self.load_failures += 1
                    logger.error("model sync: cannot load shadow %s: %s", shadow, exc)
        if now - self._reported_at >= REPORT_EVERY_S:
            await self.report()

    # -- reports ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {"worker": self.worker, "active": self._serving(), "wanted": self.wanted,
                "shadow": self._shadow_serving(), "error": self.error, "ts": time.time()}

    async def report(self) -> None:
        self._reported_at = time.monotonic()
        data = orjson.dumps(self.status())
        with contextlib.suppress(OSError):
            folder = self.directory / ".workers"
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(folder / f"{self.worker}.json", data)
        if self.redis is not None:
            try:
                pipe = self.redis.pipeline(transaction=False)
                pipe.hset(self.workers_key, self.worker, data)
                pipe.expire(self.workers_key, 60)  # gone when every worker is
                await pipe.execute()
            except Exception as exc:
                self._redis_failed(exc)

    async def workers(self) -> list[dict[str, Any]]:
        """Every live worker's last report (this instance's files, and Redis when set)."""
        found: dict[str, dict[str, Any]] = {}
        folder = self.directory / ".workers"
        if folder.is_dir():
            for path in folder.glob("*.json"):
                with contextlib.suppress(OSError, orjson.JSONDecodeError):
                    rec = orjson.loads(path.read_bytes())
                    found[rec["worker"]] = rec
        if self.redis is not None:
            try:
                rows = await self.redis.hgetall(self.workers_key)
            except Exception as exc:
                self._redis_failed(exc)
                rows = {}
            stale = []
            for k, v in rows.items():
                with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
                    rec = orjson.loads(v)
                    if time.time() - float(rec["ts"]) > 60 * ALIVE_S:
                        stale.append(k)
                    found[rec["worker"]] = rec
            if stale:
                with contextlib.suppress(Exception):
                    await self.redis.hdel(self.workers_key, *stale)
        found[self.worker] = self.status()
        now = time.time()
        return sorted((r for r in found.values() if now - float(r.get("ts", 0)) <= ALIVE_S),
                      key=lambda r: str(r["worker"]))

    async def _settle(self, check: Any, timeout: float) -> list[dict[str, Any]]:
        """Workers' reports once every live one satisfies ``check`` (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while True:
            workers = await self.workers()
            if all(check(w) for w in workers) or time.monotonic() >= deadline:
                return workers
            await asyncio.sleep(0.1)

    # -- what the admin API calls ---------------------------------------------------------------

    async def activate(self, version: str, *, wait: float = 3.0) -> dict[str, Any]:
        """Record ``version`` as active everywhere, switch this worker, and answer with every
        worker's version once they all follow (or ``wait`` seconds passed)."""
        async with self._lock:
            model = await self._load(version)  # ArtifactError: refused, nothing changed
            history, shadow = await self._current()
            history = [v for v in history if v != version] + [version] \
                if not history or history[-1] != version else history
            await self._record(history, shadow, [model])
            self.registry.use(model)
            self.wanted, self.error = version, None
            await self.report()
        return await self._answer(version, wait)

    async def rollback(self, *, wait: float = 3.0) -> dict[str, Any]:
        async with self._lock:
            history, shadow = await self._current()
            current = self._serving()
            while history and history[-1] == current:
                history.pop()
            if not history:
                raise KeyError("no previous model version to roll back to")
            model = await self._load(history[-1])
            await self._record(history, shadow, [model])
            self.registry.use(model)
            self.wanted, self.error = model.version, None
            await self.report()
        return await self._answer(model.version, wait)

    async def set_shadow(self, version: str | None, *, wait: float = 3.0) -> dict[str, Any]:
        async with self._lock:
            models = [await self._load(version)] if version is not None else []
            history, _ = await self._current()
            if not history and self._serving() is not None:
                history = [self._serving() or ""]
            await self._record(history, version, models)
            gov = self.runtime.governance
            if gov is not None:
                if version is None:
                    gov.stop_shadow()
                elif self._shadow_serving() != version:
                    gov.start_shadow(models[0], self.runtime.engine.clock())
            self.wanted_shadow = version
            await self.report()
        workers = await self._settle(lambda w: w.get("shadow") == version, wait)
        return {"shadow": version, "live": self._serving(), "workers": workers,
                "pending": [w["worker"] for w in workers if w.get("shadow") != version]}

    async def _answer(self, version: str, wait: float) -> dict[str, Any]:
        workers = await self._settle(
            lambda w: w.get("active") == version or w.get("error"), wait)
        return {"active": version, "workers": workers,
                "pending": [w["worker"] for w in workers if w.get("active") != version]}

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self.follow()  # before the first request: a late worker starts in line
        except Exception as exc:
            logger.error("model sync: first pass failed: %r", exc)
        self._follower.start()

    async def aclose(self) -> None:
        await self._follower.stop()
        with contextlib.suppress(OSError):
            (self.directory / ".workers" / f"{self.worker}.json").unlink()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.hdel(self.workers_key, self.worker)

    def health(self) -> dict[str, Any]:
        return {"model_wanted": self.wanted, "model_error": self.error}

    def stats(self) -> dict[str, float]:
        return {"behind": float(self.wanted is not None and self.wanted != self._serving()),
                "load_failures": float(self.load_failures),
                "redis_errors": float(self.redis_errors)}
