"""ASGI type aliases, defined once for the whole proxy package (as ``starlette/types.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

# Keys of intentgate's own ASGI message extensions (a server that does not know them ignores
# them, as the ASGI spec asks). On ``http.response.start``:
# - TRUSTED_HEAD: the header list was built by our own code from headers our upstream parser
#   framed (lower-case names that are tokens, values without CR/LF), so ``proxy.server`` writes
#   it without re-checking every header against uvicorn's two regexes;
# - BODY_FOLLOWS: the next message is the first body chunk, sent right away, so the head may go
#   out with it in one write.
TRUSTED_HEAD = "intentgate.trusted_head"
BODY_FOLLOWS = "intentgate.body_follows"
