"""The record of admin actions: who (token name, address), what, when, and the result.

Every request to a ``write`` route of the admin surface leaves one record, whatever its outcome
(a refused role included); ``AdminApp`` writes it after the handler returns, so a new endpoint
is audited without doing anything. A handler may name its action more precisely and add details
with ``note_action(scope, action, **detail)``. Records go to their own audit files
(``<audit_dir>/admin/``) or Redis stream (``<prefix>:audit:admin``), apart from the decision
records (so erasure and sampling of decisions never touch them), and to the log. They never
hold a user id: an erasure is recorded under a keyed hash of it (``subject``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from explain.audit import JsonlSink, RedisStreamSink
from proxy.admin.auth import Principal
from proxy.types import Scope

logger = logging.getLogger("intentgate.admin")

NOTE_KEY = "intentgate.audit"  # scope key: {"action": ..., "detail": {...}} set by a handler


def note_action(scope: Scope, action: str | None = None, **detail: Any) -> None:
    """Name the admin action this request performs and add details to its audit record.

    For handlers of write routes (experiments start/stop, …). Details must be JSON values and
    never a user id or cookie value in clear."""
    note = scope.setdefault(NOTE_KEY, {"action": None, "detail": {}})
    if action is not None:
        note["action"] = action
    note["detail"].update(detail)


class AdminAudit:
    """Writes and lists admin action records (newest first, with a cursor)."""

    def __init__(self, sink: Any, clock: Callable[[], float] = time.time) -> None:
        self.sink = sink
        self.clock = clock
        self.written = 0
        self.errors = 0

    @classmethod
    def from_settings(cls, settings: Any, redis_client: Any = None) -> AdminAudit:
        retention = settings.audit_retention_days * 86400.0
        if redis_client is not None:
            return cls(RedisStreamSink(redis_client, key=f"{settings.redis_prefix}:audit:admin",
                                       maxlen=settings.audit_stream_maxlen,
                                       retention_s=retention))
        directory = Path(settings.audit_dir or settings.data_path() / "audit") / "admin"
        return cls(JsonlSink(directory, max_bytes=settings.audit_max_bytes,
                             keep=settings.audit_keep, retention_s=retention))

    async def record(self, scope: Scope, principal: Principal | None, action: str,
                     status: int, reason: str | None = None) -> dict[str, Any]:
        """Write one record for this request; returns it. Never raises (a failed write is
        counted and logged: the action itself has already happened)."""
        note = scope.get(NOTE_KEY) or {"action": None, "detail": {}}
        client = scope.get("client")
        rec: dict[str, Any] = {
            "ts": self.clock(),
            "kind": "admin",
            "action": note["action"] or action,
            "token": principal.name if principal else None,
            "role": principal.role if principal else None,
            "address": principal.address if principal else (client[0] if client else None),
            "status": status,
            "result": "ok" if status < 400 else "refused" if status in (401, 403, 429)
            else "failed",
            "reason": reason,
            "detail": note["detail"],
        }
        logger.info("admin action %s by %s from %s: %d%s", rec["action"], rec["token"],
                    rec["address"], status, f" ({reason})" if reason else "")
        try:
            done = await self.sink.write([dict(rec)])
        except Exception as exc:  # the sink counts and logs its own errors; be safe anyway
            done = 0
            logger.error("admin audit write failed: %r", exc)
        self.written += done
        self.errors += 1 - done
        return rec

    async def query(self, limit: int = 100, cursor: str | None = None
                    ) -> tuple[list[dict[str, Any]], str | None]:
        return await self.sink.query(None, None, limit, cursor)  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        await self.sink.aclose()

    def stats(self) -> dict[str, float]:
        return {"stat=written": float(self.written), "stat=errors": float(self.errors)}
