"""Tests for proxy/engine.py: the request path's core, driven directly (no server, no ASGI).

Every engine comes from ``tests.factories.make_engine``: real route table, identity, bot gate,
memory store and metrics, a hand-made two-class model and a hand-turned clock.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from proxy.engine import SKIP_STATIC, Decision, Engine, Fetch
from signals.events import ShopperEvent
from signals.store import PROFILE_PREFIX, MemoryStore
from tests.factories import BROWSER_UA, Clock, event, make_engine, make_model

MODEL_RE = re.compile(rb"^\d{4}-\d{2}-\d{2}\.[0-9a-f]{6}$")


def _decide(engine: Engine, path: str, cookies: list[bytes] | None = None, *,
            method: str = "GET", query: bytes = b"", ua: bytes | None = BROWSER_UA,
            accept_language: bool = True, secure: bool = False) -> Decision | None:
    return asyncio.run(engine.decide(method, path, query, cookies or [], ua, True,
                                     accept_language, secure))


def _cookie_header(decision: Decision) -> list[bytes]:
    """The Cookie header a browser sends back after this decision's Set-Cookies."""
    return [b"; ".join(v.split(b";")[0] for _, v in decision.set_cookies)]


def _cookies(decision: Decision) -> dict[bytes, bytes]:
    return {v.split(b"=")[0]: v for _, v in decision.set_cookies}


def _headers(decision: Decision) -> dict[bytes, bytes]:
    return dict(decision.headers)


class _Shopper:
    """One browser: keeps its cookies and answers each request with a status."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self.jar: dict[bytes, bytes] = {}

    def visit(self, path: str, status: int = 200, method: str = "GET",
              identify: bytes | None = None) -> Decision:
        cookies = [b"; ".join(k + b"=" + v for k, v in self.jar.items())] if self.jar else []
        d = _decide(self.engine, path, cookies, method=method)
        assert d is not None
        self.engine.on_response(d, status, identify)
        for _, value in d.set_cookies:
            name, _, rest = value.split(b";")[0].partition(b"=")
            if rest:
                self.jar[name] = rest
            else:
                self.jar.pop(name, None)
        self.clock.advance(5.0)
        return d


class _Observer:
    """Records what the engine hands governance (the observer seam)."""

    def __init__(self) -> None:
        self.submitted: list[tuple[Any, ...]] = []
        self.reverted_calls: list[tuple[str, ShopperEvent]] = []
        self.undone: list[tuple[Decision, int]] = []
        self.identified_calls: list[tuple[str, str]] = []

    def submit(self, item: tuple[Any, ...]) -> None:
        self.submitted.append(item)

    def reverted(self, session: str, ev: ShopperEvent) -> None:
        self.reverted_calls.append((session, ev))

    def undo(self, decision: Decision, status: int) -> None:
        self.undone.append((decision, status))

    def identified(self, session: str, pid: str) -> None:
        self.identified_calls.append((session, pid))


# -- identity and cookies -------------------------------------------------------------------


def test_engine_new_shopper_gets_session_and_device_cookies() -> None:
    d = _decide(make_engine(), "/p/a")
    assert d is not None
    cookies = _cookies(d)
    assert set(cookies) == {b"ig_sid", b"ig_did"}
    assert b"Max-Age=1800;" in cookies[b"ig_sid"]
    assert b"Max-Age=34560000;" in cookies[b"ig_did"]
    for value in cookies.values():
        assert value.endswith(b"HttpOnly; SameSite=Lax")
    assert cookies[b"ig_sid"].startswith(b"ig_sid=" + d.session.encode() + b";")
    assert cookies[b"ig_did"].startswith(b"ig_did=" + d.device.encode() + b";")


def test_engine_cookies_are_secure_on_a_secure_request() -> None:
    d = _decide(make_engine(), "/p/a", secure=True)
    assert d is not None and len(d.set_cookies) == 2
    assert all(v.endswith(b"; Secure") for _, v in d.set_cookies)


def test_engine_cookie_names_and_ttls_come_from_options() -> None:
    engine = make_engine(session_cookie=b"s", device_cookie=b"dv", session_ttl=60,
                         device_ttl=120)
    d = _decide(engine, "/p/a")
    assert d is not None
    cookies = _cookies(d)
    assert b"Max-Age=60;" in cookies[b"s"] and b"Max-Age=120;" in cookies[b"dv"]


def test_engine_returning_shopper_keeps_ids_and_refreshes_only_the_session() -> None:
    engine = make_engine()
    first = _decide(engine, "/p/a")
    assert first is not None
    again = _decide(engine, "/p/b", _cookie_header(first))
    assert again is not None
    assert (again.session, again.device) == (first.session, first.device)
    # Sliding idle expiry: an event refreshes the session cookie; the device cookie stands.
    assert set(_cookies(again)) == {b"ig_sid"}


def test_engine_request_without_event_does_not_refresh_the_session_cookie() -> None:
    engine = make_engine()
    first = _decide(engine, "/p/a")
    assert first is not None
    # An unmatched POST makes no event.
    d = _decide(engine, "/api/ping", _cookie_header(first), method="POST")
    assert d is not None and d.event is None
    assert d.set_cookies == [] and d.session == first.session


def test_engine_forged_cookie_starts_a_new_session() -> None:
    engine = make_engine()
    first = _decide(engine, "/p/a")
    assert first is not None
    forged = first.session[:-1] + ("A" if first.session[-1] != "A" else "B")
    d = _decide(engine, "/p/b", [b"ig_sid=" + forged.encode()])
    assert d is not None and d.session not in (first.session, forged)
    assert set(_cookies(d)) == {b"ig_sid", b"ig_did"}


def test_engine_profile_header_is_a_stable_pseudonym_of_the_device() -> None:
    engine = make_engine()
    first = _decide(engine, "/p/a")
    assert first is not None
    second = _decide(engine, "/p/b", _cookie_header(first))
    other = _decide(engine, "/p/a")
    assert second is not None and other is not None
    profile = _headers(first)[b"x-intent-profile"]
    assert _headers(second)[b"x-intent-profile"] == profile
    assert _headers(other)[b"x-intent-profile"] != profile
    assert first.device.encode() not in profile and first.session.encode() not in profile


# -- the state update -----------------------------------------------------------------------


def test_engine_applies_each_event_to_the_stored_state() -> None:
    clock = Clock()
    engine = make_engine(clock=clock)
    shopper = _Shopper(engine, clock)
    d1 = shopper.visit("/p/a")
    d2 = shopper.visit("/compare")
    d3 = shopper.visit("/p/b")
    assert d1.state is d2.state is d3.state
    assert engine.store.get(d1.session, clock()) is d1.state
    assert d3.state.events_seen == 3
    assert engine.metrics.events["product_view"] == 2
    assert engine.metrics.events["compare"] == 1


def test_engine_search_query_is_captured_from_the_query_string() -> None:
    engine = make_engine()
    d = _decide(engine, "/search", query=b"q=red+shoes")
    assert d is not None and d.event is not None
    assert d.event.kind.slug == "search" and d.event.query == "red shoes"
    assert engine.metrics.events["search"] == 1


def test_engine_event_time_is_the_injected_clock() -> None:
    clock = Clock(1_900_000_000.0)
    engine = make_engine(clock=clock)
    d = _decide(engine, "/p/a")
    assert d is not None and d.event is not None
    assert d.event.ts == 1_900_000_000.0 and d.now == 1_900_000_000.0


# -- header values --------------------------------------------------------------------------


def test_engine_is_undetermined_until_min_events() -> None:
    clock = Clock()
    engine = make_engine(clock=clock, min_events=3)
    shopper = _Shopper(engine, clock)
    for _ in range(2):
        h = _headers(shopper.visit("/p/a"))
        assert h[b"x-intent-class"] == b"undetermined"
        assert h[b"x-intent-confidence"] == b"0.00"
        assert b"x-intent-signals" not in h
    h = _headers(shopper.visit("/p/b"))
    assert h[b"x-intent-class"] == b"browser"


def test_engine_header_values_after_scoring() -> None:
    clock = Clock()
    engine = make_engine(clock=clock, min_events=1)
    d = _Shopper(engine, clock).visit("/p/a")
    names = [k for k, _ in d.headers]
    assert names == [b"x-intent-class", b"x-intent-confidence", b"x-intent-signals",
                     b"x-intent-model", b"x-intent-profile"]
    h = _headers(d)
    assert h[b"x-intent-class"] == b"browser" and d.slug == "browser"
    assert re.fullmatch(rb"[01]\.\d\d", h[b"x-intent-confidence"])
    assert h[b"x-intent-signals"] == b"product_views=1.00"
    assert engine.active is not None
    assert h[b"x-intent-model"] == engine.active.version.encode()
    assert MODEL_RE.match(h[b"x-intent-model"])
    assert engine.metrics.requests_by_class == {"browser": 1}


def test_engine_comparisons_score_the_other_class() -> None:
    clock = Clock()
    engine = make_engine(clock=clock, min_events=1)
    shopper = _Shopper(engine, clock)
    d = shopper.visit("/compare")
    assert _headers(d)[b"x-intent-class"] == b"weigher"
    assert _headers(d)[b"x-intent-signals"] == b"comparisons=1.00"


def test_engine_header_prefix_is_configurable() -> None:
    engine = make_engine(header_prefix=b"x-shop-", min_events=1)
    d = _decide(engine, "/p/a")
    assert d is not None
    assert {k for k, _ in d.headers} == {b"x-shop-class", b"x-shop-confidence",
                                         b"x-shop-signals", b"x-shop-model", b"x-shop-profile"}


def test_engine_top_signals_bounds_the_signals_header() -> None:
    clock = Clock()
    model = make_model([[1.2, 1.2], [0.0, 0.0]], names=("product_views", "comparisons"),
                       slugs=("busy", "idle"), radius=50.0)
    for top, count in ((1, 1), (2, 2)):
        engine = make_engine(model=model, clock=clock, min_events=1, top_signals=top)
        shopper = _Shopper(engine, clock)
        shopper.visit("/p/a")
        d = shopper.visit("/compare")
        assert _headers(d)[b"x-intent-class"] == b"busy"
        assert _headers(d)[b"x-intent-signals"].count(b"=") == count


def test_engine_without_a_model_sets_cookies_and_no_headers() -> None:
    engine = make_engine(model=None)
    d = _decide(engine, "/p/a")
    assert d is not None
    assert d.headers == [] and d.active is None
    assert set(_cookies(d)) == {b"ig_sid", b"ig_did"}
    assert d.state.events_seen == 1  # the state still learns: a model may arrive later


def test_engine_decision_keeps_the_model_that_scored_it_across_a_swap() -> None:
    clock = Clock()
    engine = make_engine(clock=clock, min_events=1)
    shopper = _Shopper(engine, clock)
    before = shopper.visit("/p/a")
    old = engine.active
    new = make_model([[1.6, 0.0], [0.0, 1.6]], names=("product_views", "comparisons"),
                     slugs=("looker", "ponderer"), radius=50.0)
    engine.activate(new)
    after = shopper.visit("/p/b")
    assert before.active is old and after.active is engine.active and old is not engine.active
    assert _headers(before)[b"x-intent-model"] != _headers(after)[b"x-intent-model"]
    assert _headers(after)[b"x-intent-class"] == b"looker"


# -- class switch margin (hysteresis) -------------------------------------------------------


def _compares_until_switch(margin: float) -> int:
    clock = Clock()
    engine = make_engine(clock=clock, min_events=1, class_switch_margin=margin)
    shopper = _Shopper(engine, clock)
    for _ in range(3):
        assert _headers(shopper.visit("/p/a"))[b"x-intent-class"] == b"browser"
    for n in range(1, 40):
        if _headers(shopper.visit("/compare"))[b"x-intent-class"] == b"weigher":
            return n
    raise AssertionError("never switched")


def test_engine_class_switch_margin_holds_the_class_longer() -> None:
    # The runner-up must be nearer by the margin: each wider margin needs more comparisons.
    needed = [_compares_until_switch(m) for m in (0.0, 0.1, 0.3)]
    assert needed[0] < needed[1] < needed[2], needed


def test_engine_remembers_the_class_given_per_session() -> None:
    clock = Clock()
    engine = make_engine(clock=clock, min_events=1, class_switch_margin=0.5)
    shopper = _Shopper(engine, clock)
    d = shopper.visit("/p/a")
    assert engine.active is not None
    assert engine.active.memory.get(d.key) == 0 == d.cls
    assert d.prev_cls == -1
    d2 = shopper.visit("/p/b")
    assert d2.prev_cls == 0 and d2.cls == 0


# -- undo on 4xx/5xx and redirects ----------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500])
def test_engine_error_response_undoes_the_event(status: int) -> None:
    clock = Clock()
    engine = make_engine(clock=clock)
    shopper = _Shopper(engine, clock)
    shopper.visit("/p/a")
    d = shopper.visit("/p/missing", status)
    assert d.state.events_seen == 1
    assert engine.metrics.reverted_events == 1


def test_engine_redirect_undoes_a_page_view_but_not_an_action() -> None:
    clock = Clock()
    engine = make_engine(clock=clock)
    shopper = _Shopper(engine, clock)
    d = shopper.visit("/p/old", 301)
    assert d.state.events_seen == 0 and engine.metrics.reverted_events == 1
    d = shopper.visit("/cart", 303, method="POST")
    assert d.event is not None and d.event.kind.slug == "cart_add"
    assert d.state.events_seen == 1 and engine.metrics.reverted_events == 1


def test_engine_undo_restores_the_class_the_event_changed() -> None:
    clock = Clock()
    observer = _Observer()
    engine = make_engine(clock=clock, min_events=1, observer=observer)
    shopper = _Shopper(engine, clock)
    d = shopper.visit("/p/gone", 404)
    assert (d.prev_cls, d.cls) == (-1, 0)
    assert engine.active is not None and engine.active.memory.get(d.key) == -1
    assert observer.reverted_calls == [(d.session, d.event)]
    assert observer.undone == [(d, 404)]


def test_engine_undo_without_a_class_change_tells_only_the_timeline() -> None:
    clock = Clock()
    observer = _Observer()
    engine = make_engine(clock=clock, min_events=1, observer=observer)
    shopper = _Shopper(engine, clock)
    shopper.visit("/p/a")
    d = shopper.visit("/p/gone", 404)
    assert d.prev_cls == d.cls == 0
    assert len(observer.reverted_calls) == 1 and observer.undone == []
    assert engine.active is not None and engine.active.memory.get(d.key) == 0


def test_engine_records_only_events_that_stood() -> None:
    recorded: list[tuple[str, str]] = []

    class Recorder:
        def record(self, session: str, ev: ShopperEvent) -> None:
            recorded.append((session, ev.kind.slug))

    clock = Clock()
    engine = make_engine(clock=clock, recorder=Recorder())
    shopper = _Shopper(engine, clock)
    d = shopper.visit("/p/a")
    shopper.visit("/p/gone", 404)
    shopper.visit("/compare")
    assert recorded == [(d.session, "product_view"), (d.session, "compare")]


# -- what is not classified -----------------------------------------------------------------


def test_engine_static_asset_is_skipped_without_cookies() -> None:
    engine = make_engine()
    assert _decide(engine, "/static/app.css") is None
    assert engine.skipped == SKIP_STATIC
    assert len(engine.store) == 0


@pytest.mark.parametrize(("ua", "accept_language", "reason", "skipped"), [
    (b"Googlebot/2.1 (+http://www.google.com/bot.html)", True, "declared-crawler",
     b"bot: declared crawler"),
    (b"python-requests/2.31", True, "automation", b"bot: automation user agent"),
    (BROWSER_UA, False, "missing-browser-headers", b"bot: no browser headers"),
    (None, True, "missing-browser-headers", b"bot: no browser headers"),
])
def test_engine_bots_are_skipped_and_counted(
    ua: bytes | None, accept_language: bool, reason: str, skipped: bytes,
) -> None:
    engine = make_engine()
    assert _decide(engine, "/p/a", ua=ua, accept_language=accept_language) is None
    assert engine.skipped == skipped
    assert engine.metrics.bots == {reason: 1}
    assert len(engine.store) == 0  # a bot leaves no state behind


def test_engine_too_fast_a_session_is_skipped_as_a_bot() -> None:
    clock = Clock()
    engine = make_engine(clock=clock, bot_max_rate=3)
    first = _decide(engine, "/p/a")
    assert first is not None
    cookies = _cookie_header(first)
    results = [_decide(engine, "/p/b", cookies) for _ in range(6)]
    assert None in results
    assert engine.skipped == b"bot: too many requests"
    assert engine.metrics.bots["rate"] >= 1
    assert results.index(None) >= 1  # the first few requests of a minute are a shopper's


def test_engine_skipped_reason_is_cleared_by_the_next_request() -> None:
    engine = make_engine()
    assert _decide(engine, "/static/app.css") is None and engine.skipped
    assert _decide(engine, "/p/a") is not None
    assert engine.skipped == b""


# -- fail open ------------------------------------------------------------------------------


def test_engine_fails_open_when_scoring_raises() -> None:
    engine = make_engine(min_events=1)

    class Broken:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("model exploded")

    assert engine.active is not None
    engine.active.scorer = Broken()  # type: ignore[assignment]
    assert _decide(engine, "/p/a") is None
    assert engine.metrics.fail_open == {"error": 1}
    assert engine.skipped == b"fail-open: error"
    assert engine.metrics.requests_by_class == {}


def test_engine_fails_open_when_the_store_raises() -> None:
    engine = make_engine()

    class DownStore(MemoryStore):
        def get(self, key: str, now: float) -> Any:
            raise OSError("disk on fire")

    engine.store = DownStore()
    assert _decide(engine, "/p/a") is None
    assert engine.metrics.fail_open["error"] == 1


def test_engine_over_budget_drops_the_class_and_keeps_the_cookies() -> None:
    observer = _Observer()
    # A budget of 0: anything takes longer than nothing.
    engine = make_engine(budget_ns=0, min_events=1, observer=observer)
    d = _decide(engine, "/p/a")
    assert d is not None
    assert d.headers == [] and d.active is None  # forwarded unclassified
    assert d.skipped == engine.skipped == b"fail-open: budget"
    # The shopper keeps the session the event was counted under (a retry is the same session).
    assert set(_cookies(d)) == {b"ig_sid", b"ig_did"} and d.state.events_seen == 1
    assert engine.active is not None and engine.active.memory.get(d.key) == -1  # put back
    assert engine.metrics.fail_open == {"budget": 1}
    assert engine.metrics.classify_latency.count == 0  # not timed as a classification
    assert engine.metrics.requests_by_class == {}  # nor counted under a class it never got
    assert observer.submitted == []  # a request forwarded unclassified reaches no observer


def test_engine_within_budget_observes_latency_and_submits() -> None:
    observer = _Observer()
    engine = make_engine(min_events=1, observer=observer)
    d = _decide(engine, "/p/a")
    assert d is not None
    assert engine.metrics.classify_latency.count == 1
    (item,) = observer.submitted
    assert item[0] == d.session and item[4] == "browser" and item[9] == d.winner == 0


def test_engine_budget_skip_is_counted_per_request() -> None:
    engine = make_engine(budget_ns=0)
    for _ in range(3):
        _decide(engine, "/p/a")
    assert engine.metrics.fail_open["budget"] == 3


def test_engine_fail_open_logs_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    engine = make_engine(budget_ns=0)
    with caplog.at_level("WARNING", logger="proxy.engine"):
        for _ in range(5):
            _decide(engine, "/p/a")
    lines = [r for r in caplog.records if "classification skipped" in r.getMessage()]
    assert len(lines) == 1 and engine.metrics.fail_open["budget"] == 5


# -- a remote store: the one round trip -----------------------------------------------------


class _RemoteStore(MemoryStore):
    """A memory store that pretends its states live elsewhere until fetched."""

    remote = True

    def __init__(self, fail_after_fetch: bool = False) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.hidden: set[str] = set()
        self.fail_after_fetch = fail_after_fetch

    def get(self, key: str, now: float) -> Any:
        if key in self.hidden:
            if self.fail_after_fetch and key in self.fetched:
                raise OSError("corrupt state")
            return None
        return super().get(key, now)

    async def fetch(self, key: str) -> None:
        self.fetched.append(key)
        if not self.fail_after_fetch:
            self.hidden.discard(key)


def test_engine_new_shopper_on_a_remote_store_needs_no_round_trip() -> None:
    store = _RemoteStore()
    engine = make_engine(store=store)
    assert _decide(engine, "/p/a") is not None
    assert store.fetched == [] and engine.metrics.store_fetches == 0


def test_engine_known_session_not_local_is_fetched_once_and_resumed() -> None:
    store = _RemoteStore()
    engine = make_engine(store=store)
    first = _decide(engine, "/p/a")
    assert first is not None
    store.hidden.add(first.session)
    cookies = _cookie_header(first)
    pending = engine.classify("GET", "/p/b", b"", cookies, BROWSER_UA, True, True, False)
    assert isinstance(pending, Fetch) and pending.key == first.session
    d = _decide(engine, "/p/b", cookies)
    assert d is not None and d.session == first.session
    assert store.fetched == [first.session]
    assert engine.metrics.store_fetches == 1 and engine.metrics.store_wait.count == 1
    assert d.state.events_seen == 2  # the fetched state, then this request's event


def test_engine_fails_open_when_resuming_after_the_fetch_raises() -> None:
    store = _RemoteStore(fail_after_fetch=True)
    engine = make_engine(store=store)
    first = _decide(engine, "/p/a")
    assert first is not None
    store.hidden.add(first.session)
    assert _decide(engine, "/p/b", _cookie_header(first)) is None
    assert engine.metrics.fail_open == {"error": 1} and store.fetched == [first.session]


# -- identify: the origin names the shopper -------------------------------------------------


def test_engine_identify_moves_the_shopper_onto_a_profile() -> None:
    clock = Clock()
    observer = _Observer()
    engine = make_engine(clock=clock, min_events=1, observer=observer)
    shopper = _Shopper(engine, clock)
    d = shopper.visit("/p/a", identify=b"user-42")
    assert engine.metrics.identifies == 1
    pid_cookie = _cookies(d)[b"ig_pid"]
    assert b"user-42" not in pid_cookie and b"Max-Age=2592000;" in pid_cookie
    after = shopper.visit("/p/b")
    assert after.pid is not None and after.key == PROFILE_PREFIX + after.pid
    assert _headers(after)[b"x-intent-profile"] == after.pid.encode()
    assert after.state.events_seen == 2  # the session's event was merged into the profile
    assert observer.identified_calls == [(d.session, after.pid)]


def test_engine_repeated_identify_sets_no_new_cookie() -> None:
    clock = Clock()
    engine = make_engine(clock=clock)
    shopper = _Shopper(engine, clock)
    shopper.visit("/p/a", identify=b"user-42")
    d = shopper.visit("/p/b", identify=b"user-42")
    assert b"ig_pid" not in _cookies(d)


def test_engine_identify_dash_logs_out_and_clears_the_profile_cookie() -> None:
    clock = Clock()
    engine = make_engine(clock=clock)
    shopper = _Shopper(engine, clock)
    shopper.visit("/p/a", identify=b"user-42")
    assert b"ig_pid" in shopper.jar
    d = shopper.visit("/p/b", identify=b"-")
    assert _cookies(d)[b"ig_pid"].startswith(b"ig_pid=; Max-Age=0;")
    assert b"ig_pid" not in shopper.jar
    after = shopper.visit("/p/c")
    assert after.pid is None and after.key == after.session


# -- beacons --------------------------------------------------------------------------------


def test_engine_beacon_applies_to_the_cookie_session_only() -> None:
    clock = Clock()
    engine = make_engine(clock=clock)
    ev = event("dwell", clock(), value=12.0)
    assert engine.apply_beacon([], ev) == "no_session"
    d = _decide(engine, "/p/a")
    assert d is not None
    assert engine.apply_beacon(_cookie_header(d), ev) == "accepted"
    assert d.state.events_seen >= 1 and engine.metrics.events["dwell"] == 1
    # A valid cookie whose state is gone (expired, evicted) is not a session any more.
    engine.store.delete(d.session)
    assert engine.apply_beacon(_cookie_header(d), ev) == "no_session"


def test_engine_beacon_shares_the_rate_limit() -> None:
    clock = Clock()
    engine = make_engine(clock=clock, bot_max_rate=5)
    d = _decide(engine, "/p/a")
    assert d is not None
    outcomes = [engine.apply_beacon(_cookie_header(d), event("dwell", clock(), value=1.0))
                for _ in range(4)]
    assert "rate_limited" in outcomes and outcomes[0] == "accepted"
