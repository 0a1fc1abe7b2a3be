"""Beacon payload validation and the beacon script (signals/beacon.py)."""

from __future__ import annotations

import json
import shutil
import subprocess

import orjson
import pytest

from signals.beacon import (
    BEACON_JS,
    MAX_BEACON_BYTES,
    MAX_DWELL_MS,
    MAX_PATH_CHARS,
    parse_beacon,
)
from signals.errors import BeaconError
from signals.events import EventKind, ShopperEvent
from signals.routes import RouteTable

NOW = 1_700_000_000.0


def body(**fields: object) -> bytes:
    return orjson.dumps(fields)


# -- valid beacons -----------------------------------------------------------------------------


def test_beacon_dwell_becomes_dwell_event_in_ms() -> None:
    got = parse_beacon(body(type="dwell", ms=4200, path="/products/x"), NOW)
    assert got == ShopperEvent(EventKind.DWELL, NOW, value=4200.0)


def test_beacon_dwell_accepts_bounds_and_fractional_ms() -> None:
    assert parse_beacon(body(type="dwell", ms=0), NOW).value == 0.0
    assert parse_beacon(body(type="dwell", ms=MAX_DWELL_MS), NOW).value == MAX_DWELL_MS
    assert parse_beacon(body(type="dwell", ms=12.5, path="/"), NOW).value == 12.5


def test_beacon_dwell_with_routes_carries_the_product_of_its_page() -> None:
    routes = RouteTable.from_config("demo")
    got = parse_beacon(body(type="dwell", ms=900, path="/products/linen-shirt"), NOW, routes)
    assert got == ShopperEvent(EventKind.DWELL, NOW, product="linen-shirt", value=900.0)
    other = parse_beacon(body(type="dwell", ms=900, path="/pages/about?x=1"), NOW, routes)
    assert other == ShopperEvent(EventKind.DWELL, NOW, value=900.0)


def test_beacon_compare_counts_products() -> None:
    got = parse_beacon(body(type="compare", products=["a", "b", "c"], path="/"), NOW)
    assert got == ShopperEvent(EventKind.COMPARE, NOW, value=3.0)


def test_beacon_wishlist_and_review_name_the_product() -> None:
    assert parse_beacon(body(type="wishlist_add", product="p1"), NOW) == ShopperEvent(
        EventKind.WISHLIST_ADD, NOW, product="p1"
    )
    assert parse_beacon(body(type="review_view", product="p2"), NOW) == ShopperEvent(
        EventKind.REVIEW_VIEW, NOW, product="p2"
    )
    routes = RouteTable.from_config("demo")
    got = parse_beacon(body(type="review_view", path="/products/p3"), NOW, routes)
    assert got == ShopperEvent(EventKind.REVIEW_VIEW, NOW, product="p3")


# -- rejected beacons --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{type: dwell}", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"dwell"', "must be a JSON object"),
        (body(ms=10), "unknown beacon type None"),
        (body(type="scroll", depth=50), "unknown beacon type 'scroll'"),
        (body(type=7), "unknown beacon type 7"),
        (body(type="dwell", ms=-1), "ms: Input should be greater than or equal to 0"),
        (body(type="dwell", ms=MAX_DWELL_MS + 1), "ms: Input should be less than or equal"),
        (body(type="dwell", ms="soon"), "ms:"),
        (body(type="dwell"), "ms: Field required"),
        (b'{"type": "dwell", "ms": NaN}', "not valid JSON"),
        (body(type="dwell", ms=5, path="/" + "a" * MAX_PATH_CHARS), "path too long"),
        (body(type="dwell", ms=5, path="products/x"), "must start with '/'"),
        (body(type="dwell", ms=5, user="alice"), "unknown field 'user'"),
        (body(type="compare", products=[]), "products:"),
        (body(type="compare", products=["x"] * 21), "products:"),
        (body(type="compare", products=["x" * 101]), "products.0:"),
        (body(type="wishlist_add"), "product: Field required"),
    ],
)
def test_beacon_rejects_bad_payload_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(BeaconError) as info:
        parse_beacon(raw, NOW)
    assert reason in str(info.value)
    assert isinstance(info.value, ValueError)  # the admin handler maps ValueError to 400


def test_beacon_rejects_body_over_size_cap() -> None:
    raw = body(type="dwell", ms=5, path="/" + "a" * 900) + b" " * MAX_BEACON_BYTES
    with pytest.raises(BeaconError, match=f"limit is {MAX_BEACON_BYTES}"):
        parse_beacon(raw, NOW)


def test_beacon_size_cap_is_4_kib() -> None:
    assert MAX_BEACON_BYTES == 4096


# -- the script --------------------------------------------------------------------------------


def test_beacon_script_is_small_and_uses_send_beacon_on_visibility() -> None:
    assert len(BEACON_JS.encode()) < 2048
    for needle in ("navigator.sendBeacon", "visibilitychange", "/_intentgate/beacon", "pagehide"):
        assert needle in BEACON_JS
    assert "import " not in BEACON_JS and "require(" not in BEACON_JS


# A minimal browser: document visibility, Date.now under test control, sendBeacon recorded.
_HARNESS = """
const sent = [];
let clock = 1000;
Date.now = () => clock;
const docListeners = {}, winListeners = {};
global.document = {visibilityState: "visible",
  addEventListener: (t, f) => { docListeners[t] = f; }};
global.location = {pathname: "/products/linen-shirt"};
global.navigator = {sendBeacon: (url, data) => { sent.push([url, data]); return true; }};
global.addEventListener = (t, f) => { winListeners[t] = f; };
global.window = global;
eval(require("fs").readFileSync(0, "utf8"));
function hide() { document.visibilityState = "hidden"; docListeners.visibilitychange(); }
function show() { document.visibilityState = "visible"; docListeners.visibilitychange(); }
clock += 4200; hide();             // 4.2 s visible -> one dwell beacon
clock += 60000; show();            // hidden time is not counted
clock += 1500; winListeners.pagehide({persisted: false});
winListeners.pagehide({persisted: false});   // already stopped: nothing more
clock += 50; winListeners.pageshow({persisted: true}); clock += 30; hide();  // < 100 ms: dropped
window.intentgate.send({type: "compare", products: ["a", "b"]});
process.stdout.write(JSON.stringify(sent));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_beacon_script_sends_visible_dwell_that_parse_beacon_accepts() -> None:
    proc = subprocess.run(
        ["node", "-e", _HARNESS], input=BEACON_JS, capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    sent = json.loads(proc.stdout)
    assert [url for url, _ in sent] == ["/_intentgate/beacon"] * 3
    events = [parse_beacon(data.encode(), NOW) for _, data in sent]
    assert events == [
        ShopperEvent(EventKind.DWELL, NOW, value=4200.0),
        ShopperEvent(EventKind.DWELL, NOW, value=1500.0),
        ShopperEvent(EventKind.COMPARE, NOW, value=2.0),
    ]
    assert all(json.loads(data)["path"] == "/products/linen-shirt" for _, data in sent)
