"""The governance API through a real proxy on loopback: auth, decisions (audit log), session
timelines with class changes, live segments, shadow, drift, erasure, and the page's files."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from classifiers.artifact import load_model, seal
from proxy.app import create_app
from proxy.config import load_settings
from proxy.models import bundled_model_bytes
from tests.e2e.origin import origin_app
from tests.servers import serve_in_thread

TOKEN = "governance-" + "t" * 20
AUTH = {"authorization": f"Bearer {TOKEN}"}
BROWSER = {"user-agent": "Mozilla/5.0 Chrome/126.0", "accept": "text/html",
           "accept-language": "en"}
BUNDLED = load_model(bundled_model_bytes())


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    with serve_in_thread(origin_app) as url:
        yield url


@contextmanager
def _proxy(upstream: str, data_dir: Path, **overrides: Any) -> Iterator[str]:
    settings = load_settings(environ={}, overrides={
        "upstream": upstream, "secret": "governance-secret-0123456789", "data_dir": str(data_dir),
        "admin_token": TOKEN, "expose_headers": True, "bot_max_rate": 10_000.0,
        "record_events": True, "admin_listen": "public", **overrides})
    with serve_in_thread(create_app(settings)) as url:
        yield url


@pytest.fixture
def make_proxy(origin: str, tmp_path: Path) -> Iterator[Callable[..., str]]:
    with ExitStack() as stack:
        yield lambda **kw: stack.enter_context(_proxy(origin, tmp_path, **kw))


@pytest.fixture
def proxy(make_proxy: Callable[..., str]) -> str:
    return make_proxy()


def api(proxy: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{proxy}/_intentgate/api/{path}", headers=AUTH, **kw)


def browse(client: httpx.Client, *paths: str) -> httpx.Response:
    r = None
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200
    assert r is not None
    return r


def comparer(proxy: str) -> tuple[str, str]:
    """A session that starts undetermined and becomes a comparison shopper: (cookie, class)."""
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        browse(c, "/products/red-shoe", "/products/blue-shoe")
        r = browse(c, *["/pages/compare?products=red-shoe,blue-shoe,green-shoe"] * 4)
        return c.cookies["ig_sid"], r.headers["x-intent-class"]


def _candidate(rename_slugs: bool) -> bytes:
    content = orjson.loads(bundled_model_bytes())
    for card in content["classes"]:
        card["display_name"] += " (candidate)"
        if rename_slugs:
            card["slug"] = "v2-" + card["slug"][:50]
    return seal(content)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "decisions"), ("GET", "live"), ("GET", "drift"), ("GET", "models/shadow"),
    ("DELETE", "models/shadow"), ("POST", "models/2026-01-01.abcdef/shadow"),
    ("DELETE", "profiles/alice"), ("GET", "sessions/abcdefghijklmnopqrstuv"),
])
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token-0000000000", "Basic " + TOKEN])
def test_governance_endpoints_refuse_a_missing_or_wrong_token(
    proxy: str, method: str, path: str, auth: str | None
) -> None:
    headers = {"authorization": auth} if auth else {}
    r = httpx.request(method, f"{proxy}/_intentgate/api/{path}", headers=headers)
    assert r.status_code == 401 and r.json()["error"]


def test_session_lookup_shows_the_timeline_and_the_class_change_with_its_signals(
    proxy: str,
) -> None:
    headers = []
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        for path in ["/products/red-shoe", "/products/blue-shoe"] + [
                "/pages/compare?products=red-shoe,blue-shoe,green-shoe"] * 4:
            headers.append(c.get(path).headers)
        sid = c.cookies["ig_sid"]
    changed_at = next(h for h in headers if h["x-intent-class"] != "undetermined")
    body = api(proxy, "GET", f"sessions/{sid}").json()
    assert body["class"] == "comparison-shopper" and body["events"] == 6
    assert [e["kind"] for e in body["timeline"]] == ["product_view"] * 2 + ["compare"] * 4
    assert body["timeline"][0]["product"] == "red-shoe"
    change = body["changes"][-1]
    assert change["class"] == "comparison-shopper" and change["previous"] == "undetermined"
    # The signals behind the change are the ones the origin was told at that request.
    told = [p.split("=") for p in changed_at["x-intent-signals"].split(", ")]
    assert [(s["signal"], f"{s['share']:.2f}") for s in change["signals"]] == [
        (name, share) for name, share in told]
    assert change["signals"][0]["in_words"] and change["confidence"] == pytest.approx(
        float(changed_at["x-intent-confidence"]), abs=0.006)
    assert body["signals"][0]["signal"] == "comparisons"  # now, after four comparisons
    assert body["signals"][0]["in_words"] == "4 comparisons in under a minute"
    assert all(s["raw_value"] > 0 and 0 < s["share"] <= 1 for s in body["signals"])
    total = sum(a["contribution"] for a in body["attribution"])  # the technical detail
    assert total == pytest.approx(body["margin"], abs=1e-5)
    # The pseudonymous token in the body (and in audit records) looks the same session up.
    again = api(proxy, "GET", f"sessions/{body['session']}").json()
    assert again["changes"] == body["changes"] and sid not in orjson.dumps(again).decode()


def test_session_lookup_refuses_bad_ids(proxy: str) -> None:
    assert api(proxy, "GET", "sessions/forged.token123").status_code == 400
    assert api(proxy, "GET", "sessions/a%20b").status_code == 400
    gone = api(proxy, "GET", "sessions/" + "A" * 22)  # unknown pseudonym: history is gone
    assert gone.status_code == 404 and "gone" in gone.json()["error"]


def test_decisions_hold_audit_records_filtered_by_class_and_paged(
    make_proxy: Callable[..., str],
) -> None:
    # Only class changes are recorded here: a sampled unchanged decision (whose session
    # token happens to hash under the rate) would otherwise be the newest record.
    proxy = make_proxy(audit_sample_rate=0.0)
    sid, _ = comparer(proxy)
    comparer(proxy)
    r = api(proxy, "GET", "decisions", params={"class": "comparison-shopper", "limit": 1})
    body = r.json()
    assert r.status_code == 200 and len(body["decisions"]) == 1 and body["next_cursor"]
    rec = body["decisions"][0]
    assert rec["class"] == "comparison-shopper" and rec["previous"] == "undetermined"
    assert rec["model"] == BUNDLED.version and 0 < rec["confidence"] <= 1
    assert len(rec["signals"]) == len(rec["x"]) == BUNDLED.d
    raw = {s["signal"]: s["raw_value"] for s in rec["signals"]}
    # Recorded at the change: the first comparison, after two product views.
    assert raw["comparisons"] == pytest.approx(1.0, abs=0.01) and rec["event"] == "compare"
    assert raw["product_views"] == pytest.approx(2.0, abs=0.01)
    assert raw["distinct_products"] == 2.0
    nxt = api(proxy, "GET", "decisions", params={"class": "comparison-shopper",
                                                  "cursor": body["next_cursor"]}).json()
    assert nxt["decisions"] and nxt["decisions"][0]["id"] != rec["id"]
    everything = api(proxy, "GET", "decisions", params={"limit": 1000}).text
    assert sid not in everything  # only pseudonyms are recorded


@pytest.mark.parametrize("params", [
    {"class": "Not A Slug"}, {"limit": "0"}, {"limit": "5000"}, {"limit": "ten"},
    {"cursor": "yesterday"}, {"since": "-5"}, {"colour": "red"},
])
def test_decisions_refuse_bad_query_parameters_with_a_reason(
    proxy: str, params: dict[str, str]
) -> None:
    r = api(proxy, "GET", "decisions", params=params)
    assert r.status_code == 400 and r.json()["error"].startswith("invalid")


def test_segments_give_the_live_share_beside_the_training_share(proxy: str) -> None:
    comparer(proxy)
    body = api(proxy, "GET", "segments").json()
    cards = {c["slug"]: c for c in body["segments"]}
    comp = cards["comparison-shopper"]
    assert comp["live_percentage"] == 100.0 and comp["live_requests"] == 4
    fitted = next(c for c in BUNDLED.artifact.classes if c.percentage > 0)  # a trained class
    assert cards[fitted.slug]["training_percentage"] == pytest.approx(fitted.percentage,
                                                                      abs=0.01)
    assert body["undetermined_requests"] == 2 and body["window_s"] == 3600


def test_live_series_counts_decisions_per_bucket(proxy: str) -> None:
    comparer(proxy)
    body = api(proxy, "GET", "live").json()
    assert len(body["series"]) == 60
    assert body["series"][-1]["counts"] == {"undetermined": 2, "comparison-shopper": 4}
    assert body["display_names"]["comparison-shopper"] == "Comparison shopper"


def test_shadow_agrees_with_a_candidate_of_the_same_segments_without_touching_headers(
    proxy: str,
) -> None:
    candidate = api(proxy, "POST", "models", content=_candidate(False)).json()["version"]
    r = api(proxy, "POST", f"models/{candidate}/shadow")
    assert r.status_code == 200
    assert r.json() | {"workers": None, "pending": None} == {
        "shadow": candidate, "live": BUNDLED.version, "workers": None, "pending": None}
    assert [w["shadow"] for w in r.json()["workers"]] == [candidate]  # one worker here
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        r = browse(c, *["/pages/compare?products=a,b"] * 4)
    assert r.headers["x-intent-model"] == BUNDLED.version
    report = api(proxy, "GET", "models/shadow").json()
    assert report["candidate"] == candidate and report["decisions"] == 4
    assert report["agreement_rate"] == 1.0
    assert api(proxy, "GET", "models").json()["shadow"] == candidate
    assert api(proxy, "DELETE", "models/shadow").json()["stopped"] is True
    assert api(proxy, "GET", "models/shadow").status_code == 404


def test_shadow_confusion_matrix_for_a_candidate_with_other_segments(proxy: str) -> None:
    candidate = api(proxy, "POST", "models", content=_candidate(True)).json()["version"]
    api(proxy, "POST", f"models/{candidate}/shadow")
    comparer(proxy)
    report = api(proxy, "GET", "models/shadow").json()
    assert report["agreement_rate"] == pytest.approx(2 / 6, abs=1e-4)  # only "undetermined"
    row = report["rows"].index("comparison-shopper")
    col = report["columns"].index("v2-comparison-shopper")
    assert report["matrix"][row][col] == 4


def test_shadow_refuses_unknown_or_malformed_versions(proxy: str) -> None:
    assert api(proxy, "POST", "models/2020-01-01.000000/shadow").status_code == 404
    assert api(proxy, "POST", "models/latest/shadow").status_code == 400


def test_drift_is_flagged_on_a_shifted_stream(proxy: str) -> None:
    before = api(proxy, "GET", "drift").json()
    assert not before["drift"] and not before["enough_traffic"]
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        browse(c, *["/collections/shoes?sort_by=price-ascending"] * 40)
    body = api(proxy, "GET", "drift").json()
    assert body["enough_traffic"] and body["psi_flagged"] and body["psi"] > 0.2 and body["drift"]
    top = body["signals"][0]
    assert top["signal"] == "price_sorts" and top["flagged"] and top["shift_sd"] > 0.5


def _files_text(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())


def test_erasing_a_profile_removes_it_from_every_store_and_log(
    proxy: str, tmp_path: Path
) -> None:
    with httpx.Client(base_url=proxy, headers=BROWSER) as alice:
        browse(alice, "/identify?user=alice@example.com")
        r = browse(alice, "/products/a", "/products/b",
                   *["/pages/compare?products=a,b,c"] * 4)
        alice_sid, alice_profile = alice.cookies["ig_sid"], r.headers["x-intent-profile"]
    bob_sid, _ = comparer(proxy)
    alice_pseudonym = api(proxy, "GET", f"sessions/{alice_sid}").json()["session"]
    assert alice_profile.encode() in _files_text(tmp_path / "audit")
    assert alice_pseudonym.encode() in _files_text(tmp_path / "events")

    r = api(proxy, "DELETE", "profiles/alice@example.com")
    body = r.json()
    assert r.status_code == 200 and body["profile"] == alice_profile
    assert body["devices_unlinked"] == 1 and body["sessions_deleted"] == 1
    assert body["audit_records_deleted"] >= 1 and body["recorded_events_deleted"] == 7

    assert api(proxy, "GET", f"sessions/{alice_sid}").status_code == 404
    decisions = api(proxy, "GET", "decisions", params={"limit": 1000}).text
    assert alice_profile not in decisions and alice_pseudonym not in decisions
    assert alice_profile.encode() not in _files_text(tmp_path / "audit")
    assert alice_pseudonym.encode() not in _files_text(tmp_path / "events")
    assert api(proxy, "GET", f"sessions/{bob_sid}").status_code == 200  # others untouched
    again = api(proxy, "DELETE", "profiles/alice@example.com").json()  # idempotent
    assert again["devices_unlinked"] == again["sessions_deleted"] == 0
    assert again["audit_records_deleted"] == again["recorded_events_deleted"] == 0


def test_erase_refuses_an_unprintable_user(proxy: str) -> None:
    r = api(proxy, "DELETE", "profiles/" + "x" * 300)
    assert r.status_code == 400 and "printable" in r.json()["error"]


def test_the_page_is_served_without_a_token_under_a_strict_csp(proxy: str) -> None:
    page = httpx.get(f"{proxy}/_intentgate/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="app.js"' in page.text
    js = httpx.get(f"{proxy}/_intentgate/ui/app.js")
    assert js.status_code == 200 and "sessionStorage" in js.text
    assert js.headers["content-type"].startswith("application/javascript")
    css = httpx.get(f"{proxy}/_intentgate/ui/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    r = httpx.get(f"{proxy}/_intentgate/ui", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/_intentgate/ui/"


def test_the_audit_counters_are_exported_as_metrics(proxy: str) -> None:
    comparer(proxy)
    api(proxy, "GET", "decisions")  # flushes the buffer
    text = api(proxy, "GET", "../metrics").text
    assert 'intentgate_audit{stat="dropped"} 0.0' in text
    assert 'intentgate_audit{stat="written"}' in text


@pytest.mark.redis
def test_audit_records_go_to_a_redis_stream_when_the_store_is_redis(
    make_proxy: Callable[..., str],
) -> None:
    redis = pytest.importorskip("redis")
    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at 127.0.0.1:6379: {exc!r}")
    prefix = f"igtest{uuid.uuid4().hex[:8]}"
    try:
        proxy = make_proxy(store="redis", redis_prefix=prefix)
        comparer(proxy)
        body = api(proxy, "GET", "decisions", params={"class": "comparison-shopper"}).json()
        # This one shopper (a request that failed open under load may add a second change).
        assert len({d["session"] for d in body["decisions"]}) == 1
        assert client.xlen(f"{prefix}:audit") >= 1
        profile = body["decisions"][0]["profile"]
        with httpx.Client(base_url=proxy, headers=BROWSER) as c:
            browse(c, "/identify?user=carol", *["/pages/compare?products=a,b"] * 4)
        carol = api(proxy, "DELETE", "profiles/carol").json()
        assert carol["audit_records_deleted"] >= 1
        assert carol["store_keys_deleted"] >= 2  # the profile's hash and its device set
        time.sleep(0.2)  # nothing written behind may bring it back
        assert not list(client.scan_iter(match=f"{prefix}:{{{carol['profile']}}}:*"))
        left = api(proxy, "GET", "decisions", params={"limit": 1000}).json()["decisions"]
        assert left and all(d["profile"] != carol["profile"] for d in left)
        assert any(d["profile"] == profile for d in left)
    finally:
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
        client.close()
