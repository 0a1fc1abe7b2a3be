"""Client beacons: the JSON a page posts to ``/_intentgate/beacon``, and the script that sends it.

Validated with pydantic (outside data), turned into one ``ShopperEvent``. Pure: the proxy reads
the body (at most ``MAX_BEACON_BYTES``), ties the event to the session cookie and rate-limits it.

Beacon types (one JSON object per request; unknown fields are rejected)::

    {"type": "dwell", "ms": 4200, "path": "/products/x"}      visible time on a page -> dwell
    {"type": "compare", "products": ["a", "b"], "path": "/"}  an in-page comparison -> compare
    {"type": "wishlist_add", "product": "a", "path": "/"}     an in-page wishlist -> wishlist_add
    {"type": "review_view", "product": "a", "path": "/"}      a reviews widget opened -> review_view

``ms`` is 0..1 800 000 (30 minutes); ``path`` starts with ``/`` and is at most 1024 characters;
``products`` holds 1..20 ids, each at most 100 characters. Visibility changes and scroll depth
are not beacon types: they have no event kind, and ``BEACON_JS`` already folds visibility into
dwell (it counts only the time the page was visible).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from signals.errors import BeaconError, validation_reason
from signals.events import EventKind, ShopperEvent

if TYPE_CHECKING:
    from signals.routes import RouteTable

MAX_BEACON_BYTES = 4096
MAX_DWELL_MS = 30 * 60 * 1000
MAX_PATH_CHARS = 1024
MAX_ID_CHARS = 100
MAX_COMPARE_ITEMS = 20

_Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS)]


class _Beacon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = "/"

    @field_validator("path")
    @classmethod
    def _check_path(cls, v: str) -> str:
        if len(v) > MAX_PATH_CHARS:
            raise ValueError(f"path too long ({len(v)} > {MAX_PATH_CHARS} characters)")
        if not v.startswith("/"):
            raise ValueError("path must start with '/'")
        return v


class DwellBeacon(_Beacon):
    """Milliseconds the page at ``path`` was visible."""

    type: Literal["dwell"]
    ms: Annotated[float, Field(ge=0, le=MAX_DWELL_MS, allow_inf_nan=False)]


class CompareBeacon(_Beacon):
    """Products compared in an in-page widget (no compare URL to match)."""

    type: Literal["compare"]
    products: Annotated[list[_Id], Field(min_length=1, max_length=MAX_COMPARE_ITEMS)]


class WishlistBeacon(_Beacon):
    """A product saved to a client-side wishlist."""

    type: Literal["wishlist_add"]
    product: _Id


class ReviewBeacon(_Beacon):
    """A reviews widget opened on a page."""

    type: Literal["review_view"]
    product: _Id | None = None


BEACON_TYPES: dict[str, type[_Beacon]] = {
    "dwell": DwellBeacon,
    "compare": CompareBeacon,
    "wishlist_add": WishlistBeacon,
    "review_view": ReviewBeacon,
}


def parse_beacon(body: bytes, now: float, routes: RouteTable | None = None) -> ShopperEvent:
    """The event a beacon body describes, stamped ``now``; ``BeaconError`` with the reason.

    With ``routes``, the beacon's ``path`` is matched as a GET so a dwell on a product page
    carries that product (and category), as the page view did.
    """
    if len(body) > MAX_BEACON_BYTES:
        raise BeaconError(f"beacon is {len(body)} bytes; the limit is {MAX_BEACON_BYTES}")
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BeaconError("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BeaconError("beacon must be a JSON object")
    kind = data.get("type")
    model = BEACON_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise BeaconError(
            f"unknown beacon type {kind!r} (expected one of {', '.join(BEACON_TYPES)})"
        )
    try:
        beacon = model.model_validate(data)
    except ValidationError as exc:
        raise BeaconError(validation_reason(exc)) from None
    product = category = None
    if routes is not None:
        page = routes.match("GET", beacon.path.partition("?")[0], b"", now)
        if page is not None:
            product, category = page.product, page.category
    if isinstance(beacon, DwellBeacon):
        return ShopperEvent(EventKind.DWELL, now, product, category, None, float(beacon.ms))
    if isinstance(beacon, CompareBeacon):
        return ShopperEvent(EventKind.COMPARE, now, None, category, None,
                            float(len(beacon.products)))
    if isinstance(beacon, WishlistBeacon):
        return ShopperEvent(EventKind.WISHLIST_ADD, now, beacon.product, category)
    if isinstance(beacon, ReviewBeacon):
        return ShopperEvent(EventKind.REVIEW_VIEW, now, beacon.product or product, category)
    raise TypeError(f"no event for beacon model {type(beacon).__name__}")  # BEACON_TYPES drift




# Served at /_intentgate/beacon.js; a shop adds <script src="/_intentgate/beacon.js" defer>.
# Counts only visible time (visibilitychange), flushes on hide and pagehide with sendBeacon
# (text/plain: no CORS preflight, cookies sent same-origin), restarts on bfcache restore.
# window.intentgate.send({...}) posts the other beacon types from a shop's own widgets.
BEACON_JS = """\
/* intentgate beacon: visible dwell time per page. No dependencies, no cookies of its own. */
(function () {
  "use strict";
  var URL = "/_intentgate/beacon", MAX = 1800000, d = document, t = 0, on = false;
  function send(o) {
    o.path = o.path || location.pathname.slice(0, 1024);
    var b = JSON.stringify(o);
    if (navigator.sendBeacon && navigator.sendBeacon(URL, b)) return;
    if (window.fetch) {
      fetch(URL, {method: "POST", body: b, keepalive: true, credentials: "same-origin"});
    }
  }
  function start() { if (!on) { on = true; t = Date.now(); } }
  function stop() {
    if (!on) return;
    on = false;
    var ms = Math.min(Date.now() - t, MAX);
    if (ms >= 100) send({type: "dwell", ms: ms});
  }
  d.addEventListener("visibilitychange", function () {
    if (d.visibilityState === "hidden") { stop(); } else { start(); }
  });
  addEventListener("pagehide", stop);
  addEventListener("pageshow", function (e) { if (e.persisted) start(); });
  if (d.visibilityState !== "hidden") start();
  window.intentgate = {send: send};
})();
"""
