"""The proxy package's exceptions, each carrying the HTTP status the client is answered with.

    ProxyError                  base; ``status`` and ``reason`` say what the client sees
    ├── UpstreamError           the origin could not answer (502)
    │   ├── UpstreamUnavailable refused, reset, closed before answering, name not resolved (502)
    │   └── UpstreamTimeout     connect, pool or read deadline passed (504)
    └── BodyTooLarge            request body over ``max_body_bytes`` (413)

Foreign exceptions (OSError, parser errors) are translated into these in ``proxy/upstream.py``,
where they enter, and chained with ``raise ... from exc``. Configuration errors are
``proxy.config.ConfigError``.
"""

from __future__ import annotations


class ProxyError(Exception):
    """Base of the proxy's own errors."""

    status, reason = 500, "proxy error"


class UpstreamError(ProxyError):
    status, reason = 502, "upstream error"


class UpstreamUnavailable(UpstreamError):
    status, reason = 502, "upstream unreachable"


class UpstreamTimeout(UpstreamError):
    status, reason = 504, "upstream timed out"


class BodyTooLarge(ProxyError):
    status, reason = 413, "request body too large"
