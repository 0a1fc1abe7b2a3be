"""intentgate's proxy package: the serving path (app, middleware, engine, forwarding, server)
at its top level, with its parts in subpackages: ``admin/`` (the admin surface and page),
``commands/`` (the ``intentgate`` command line and offline commands), ``bench/`` and
``demo_shop/``.

Importing it compiles nothing and starts nothing; the kernels are warmed in the lifespan.
"""

from __future__ import annotations

from proxy.app import ProxyApp, Runtime, build_runtime, create_app
from proxy.config import ConfigError, Settings, load_settings
from proxy.engine import Engine
from proxy.forward import ForwardApp, Timeouts
from proxy.middleware import IntentGateMiddleware

__all__ = [
    "ConfigError",
    "Engine",
    "ForwardApp",
    "IntentGateMiddleware",
    "ProxyApp",
    "Runtime",
    "Settings",
    "Timeouts",
    "build_runtime",
    "create_app",
    "load_settings",
]
