"""signals: requests and clickstreams -> shopper events -> decayed session state -> features.

Pure code (time is passed in, no sockets, files or environment) except the profile stores and
the rate-limited log (a monotonic clock, injectable). Imports no other intentgate package.
"""

from __future__ import annotations

from signals.beacon import BEACON_JS, MAX_BEACON_BYTES, parse_beacon
from signals.bots import BotGate
from signals.errors import BeaconError, RuleError, SignalsError, StoreUnavailable
from signals.events import EventKind, ShopperEvent
from signals.features import DEFAULT_FEATURES, FEATURE_NAMES, FeatureExtractor, raw_values
from signals.identity import Identity, IdentityCodec, IdentityReader, set_cookie_value
from signals.ratelog import RateLimitedLog
from signals.redis_store import RedisStore
from signals.routes import PRESETS, RouteTable, RuleSpec
from signals.state import SessionState, StateConfig
from signals.store import MemoryStore, ProfileStore

__all__ = [
    "BEACON_JS",
    "DEFAULT_FEATURES",
    "FEATURE_NAMES",
    "MAX_BEACON_BYTES",
    "PRESETS",
    "BeaconError",
    "BotGate",
    "EventKind",
    "FeatureExtractor",
    "Identity",
    "IdentityCodec",
    "IdentityReader",
    "MemoryStore",
    "ProfileStore",
    "RateLimitedLog",
    "RedisStore",
    "RouteTable",
    "RuleError",
    "RuleSpec",
    "SessionState",
    "ShopperEvent",
    "SignalsError",
    "StateConfig",
    "StoreUnavailable",
    "parse_beacon",
    "raw_values",
    "set_cookie_value",
]
