"""Holdout experiments end to end: scripted shoppers of several personas through the real proxy
to a real origin on loopback that "personalizes" one class for treatment shoppers only.

Device cookies are minted from a seeded list (signed with the test's secret), and the origin's
coin is seeded, so the whole simulation is deterministic: the group of each shopper follows from
the keyed hash, the class from the model, the conversion from the seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from signals.identity import IdentityCodec
from tests.e2e.conftest import SECRET
from tests.servers import serve_in_thread

TOKEN = "experiments-admin-token-0123456789"
BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36",
           "accept": "text/html", "accept-language": "en"}
CODEC = IdentityCodec(SECRET.encode())
AUTH = {"authorization": f"Bearer {TOKEN}"}

# Four personas the bundled model tells apart after three events (shopify URL scheme).
PERSONAS: dict[str, list[str]] = {
    "price": [f"/collections/{c}?sort_by=price-ascending" for c in ("audio", "tv", "home", "cams")],
    "search": [f"/search?q={q}" for q in ("usb", "tv", "lamp", "desk")],
    "category": [f"/collections/{c}" for c in ("audio", "tv", "home", "cams")],
    "explore": [f"/products/{p}" for p in ("a", "b", "c", "d")],
}
TREATED = "price-sensitive-researcher"
BASE_RATE, TREATED_RATE = 0.25, 0.5


class SimOrigin:
    """Answers every page; on a shopper's last browsing page (``?offer=1``) it decides, with a
    seeded coin, whether the shopper buys: twice as often for treatment shoppers of ``treated``
    (the personalization under test), at the base rate for everyone else and for holdout."""

    def __init__(self, treated: str | None, seed: int = 14) -> None:
        self.treated = treated
        self.rng = random.Random(seed)
        self.seen_groups: list[tuple[str | None, str | None]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        headers = dict(scope["headers"])
        extra: list[tuple[bytes, bytes]] = []
        query = scope["query_string"]
        if b"offer=1" in query:
            cls = headers.get(b"x-intent-class", b"").decode()
            group = headers.get(b"x-intent-group", b"").decode()
            self.seen_groups.append((group or None, headers.get(b"x-intent-experiment",
                                                                  b"").decode() or None))
            rate = TREATED_RATE if cls == self.treated and group == "treatment" else BASE_RATE
            extra.append((b"x-sim-buy", b"1" if self.rng.random() < rate else b"0"))
        if scope["path"].endswith("/thank_you"):
            value = query.partition(b"value=")[2] or b"40.00"
            extra.append((b"x-intent-order-value", value))
        if scope["path"] == "/identify":
            extra.append((b"x-intent-identify", query.decode().partition("=")[2].encode()))
        body = b"ok"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2"), *extra]})
        await send({"type": "http.response.body", "body": body})


def device_cookie(tag: str) -> str:
    return CODEC.token_for(CODEC.pseudonym("device:" + tag))


@pytest.fixture
def sim_origin() -> Iterator[tuple[str, SimOrigin]]:
    origin = SimOrigin(TREATED)
    with serve_in_thread(origin, http="httptools") as url:
        yield url, origin


def shop(client: httpx.Client, persona: str, device: str) -> tuple[httpx.Response, bool]:
    """One scripted session: browse, see the offer, and maybe cart -> checkout -> purchase."""
    client.cookies.clear()
    client.cookies.set("ig_did", device)
    pages = PERSONAS[persona]
    for path in pages[:-1]:
        client.get(path)
    sep = "&" if "?" in pages[-1] else "?"
    r = client.get(pages[-1] + sep + "offer=1")
    buys = r.headers.get("x-sim-buy") == "1"
    if buys:
        client.get("/cart/add?id=a")
        client.get("/checkout")
        last = client.get("/checkouts/c1/thank_you")
        assert "x-intent-order-value" not in last.headers  # removed like the identify header
        assert last.headers["x-intent-group"] == r.headers["x-intent-group"]
    return r, buys


def test_experiment_simulation_finds_the_treated_class_and_only_it(
    sim_origin: tuple[str, SimOrigin], make_proxy: Callable[..., str],
) -> None:
    upstream, origin = sim_origin
    proxy = make_proxy(upstream, preset="shopify", expose_headers=True, admin_token=TOKEN,
                       experiment="sim", holdout_share=0.4, bot_max_rate=100_000,
                       budget_ms=1000)
    sessions = 300
    classes: dict[str, set[str]] = {}
    with httpx.Client(base_url=proxy, headers=BROWSER) as client:
        for i in range(sessions):
            for persona in PERSONAS:
                r, _ = shop(client, persona, device_cookie(f"{persona}-{i}"))
                classes.setdefault(persona, set()).add(r.headers["x-intent-class"])
                assert r.headers["x-intent-experiment"] == "sim"
        body = client.get("/_intentgate/api/experiments/sim", headers=AUTH).json()
    assert classes["price"] == {TREATED}  # the persona is the class the origin treats
    # The origin saw the group and experiment on every decision it made.
    assert len(origin.seen_groups) == sessions * len(PERSONAS)
    assert {e for _, e in origin.seen_groups} == {"sim"}
    totals = body["totals"]
    n = totals["treatment"]["sessions"] + totals["holdout"]["sessions"]
    assert n == sessions * len(PERSONAS)
    assert abs(totals["holdout"]["sessions"] / n - 0.4) < 0.05
    by_class = {c["class"]: c for c in body["classes"]}
    treated = by_class[TREATED]
    assert treated["significant"], treated["sentence"]
    assert treated["absolute"]["interval"][0] > 0.0
    assert treated["relative"]["interval"][0] > 0.0
    others = [c for name, c in by_class.items() if name != TREATED]
    assert len(others) == 3 and not any(c["significant"] for c in others), \
        [c["sentence"] for c in others]
    # Revenue per session: 40.00 per order, so 40 x the purchase rate.
    t = treated["treatment"]
    assert t["revenue_per_session"] == pytest.approx(40.0 * t["rate"])
    assert body["sentences"] and body["sentences"][0].startswith(by_class[
        body["classes"][0]["class"]]["class"] + ": ")


def test_experiment_group_is_stable_across_requests_login_devices_and_instances(
    sim_origin: tuple[str, SimOrigin], make_proxy: Callable[..., str],
) -> None:
    upstream, _ = sim_origin
    settings = {"preset": "shopify", "expose_headers": True, "admin_token": TOKEN,
                "experiment": "stable", "holdout_share": 0.5, "bot_max_rate": 100_000,
                "budget_ms": 1000}
    a = make_proxy(upstream, **settings)
    b = make_proxy(upstream, **settings)  # another instance (or the same after a restart)
    seen_switch = 0
    for i in range(40):
        device = device_cookie(f"stable-{i}")
        groups = []
        with httpx.Client(base_url=a, headers=BROWSER) as c:
            c.cookies.set("ig_did", device)
            for path in PERSONAS["explore"]:
                groups.append(c.get(path).headers["x-intent-group"])
            # The origin names the shopper mid-session: the session keeps its group.
            groups.append(c.get(f"/identify?user=user-{i}").headers["x-intent-group"])
            groups.append(c.get("/products/z").headers["x-intent-group"])
            assert len(set(groups)) == 1, groups
            profile_cookie = c.cookies.get("ig_pid")
        assert profile_cookie
        # Later sessions of the identified shopper, on any device and any instance, agree.
        after = set()
        for proxy, dev in ((a, device), (b, device), (b, device_cookie(f"phone-{i}"))):
            with httpx.Client(base_url=proxy, headers=BROWSER) as c:
                c.cookies.set("ig_did", dev)
                c.cookies.set("ig_pid", profile_cookie)
                after.add(c.get("/products/y").headers["x-intent-group"])
                after.add(c.get("/products/x").headers["x-intent-group"])
        assert len(after) == 1, after
        seen_switch += after != set(groups)
        # An anonymous device's group is the same on both instances.
        anon = device_cookie(f"anon-{i}")
        anon_groups = set()
        for proxy in (a, b):
            with httpx.Client(base_url=proxy, headers=BROWSER) as c:
                c.cookies.set("ig_did", anon)
                anon_groups.add(c.get("/products/q").headers["x-intent-group"])
        assert len(anon_groups) == 1
    # With share 0.5, about half of the devices assigned anonymously hash the other way as a
    # profile; they change group at their next session, never within one (docs/experiments.md).
    assert 0 < seen_switch < 40


def test_experiment_start_stop_through_the_admin_api_is_audited(
    sim_origin: tuple[str, SimOrigin], make_proxy: Callable[..., str],
) -> None:
    upstream, _ = sim_origin
    proxy = make_proxy(upstream, preset="shopify", expose_headers=True, admin_token=TOKEN,
                       budget_ms=1000)
    with httpx.Client(base_url=proxy, headers=BROWSER) as c:
        assert "x-intent-group" not in c.get("/products/a").headers  # off by default
        # Without an experiment the order value is still removed before the response leaves.
        assert "x-intent-order-value" not in c.get("/checkouts/c0/thank_you").headers
        assert c.get("/_intentgate/api/experiments", headers=AUTH).json()["current"] is None
        r = c.post("/_intentgate/api/experiments/spring", headers=AUTH,
                   json={"holdout_share": 0.9})
        assert r.status_code == 400 and "holdout_share" in r.json()["error"]
        r = c.post("/_intentgate/api/experiments/Bad Name", headers=AUTH,
                   json={"holdout_share": 0.1})
        assert r.status_code == 400
        assert c.post("/_intentgate/api/experiments/spring",
                      json={"holdout_share": 0.1}).status_code == 401
        r = c.post("/_intentgate/api/experiments/spring", headers=AUTH,
                   json={"holdout_share": 0.1})
        assert r.status_code == 200
        r = c.post("/_intentgate/api/experiments/autumn", headers=AUTH,
                   json={"holdout_share": 0.1})
        assert r.status_code == 409
        for p in PERSONAS["search"]:
            r = c.get(p)
        assert r.headers["x-intent-experiment"] == "spring"
        assert r.headers["x-intent-group"] in ("treatment", "holdout")
        # Two orders: one value the origin garbled (ignored, counted), one good.
        for value in ("abc", "12.5"):
            r = c.get(f"/checkouts/c1/thank_you?value={value}")
            assert "x-intent-order-value" not in r.headers
        report = c.get("/_intentgate/api/experiments/spring", headers=AUTH).json()
        assert report["running"] and report["holdout_share"] == 0.1
        assert sum(g["sessions"] for g in report["totals"].values()) == 1
        assert sum(g["orders"] for g in report["totals"].values()) == 2
        assert sum(g["revenue"] for g in report["totals"].values()) == 12.5
        metrics = c.get("/_intentgate/metrics", headers=AUTH).text
        assert 'intentgate_experiment{stat="invalid_order_values"} 1' in metrics
        assert c.delete("/_intentgate/api/experiments/spring", headers=AUTH).status_code == 200
        assert "x-intent-group" not in c.get("/products/b").headers
        assert c.delete("/_intentgate/api/experiments/spring", headers=AUTH).status_code == 404
        assert c.get("/_intentgate/api/experiments/nope", headers=AUTH).status_code == 404
        report = c.get("/_intentgate/api/experiments/spring", headers=AUTH).json()
        assert report["running"] is False  # the report outlives the experiment
        decisions = c.get("/_intentgate/api/decisions?limit=1000", headers=AUTH).json()
    actions = [d["action"] for d in decisions["decisions"] if d.get("kind") == "admin"]
    assert actions == ["experiment.stop", "experiment.start"]  # newest first


@pytest.mark.redis
def test_experiment_counters_of_two_processes_on_one_redis_are_their_sum(
    sim_origin: tuple[str, SimOrigin], tmp_path: Any,
) -> None:
    import time
    import uuid

    from tests.redisproc import delete_prefix, proxy_process, shared_redis

    upstream, _ = sim_origin
    prefix = f"igtest{uuid.uuid4().hex[:10]}"
    settings = {"store": "redis", "redis_prefix": prefix, "preset": "shopify",
                "admin_token": TOKEN, "experiment": "shared", "holdout_share": 0.3,
                "bot_max_rate": 100_000, "budget_ms": 1000}
    client = shared_redis()
    try:
        with proxy_process(upstream, tmp_path, **settings) as a, \
                proxy_process(upstream, tmp_path, **settings) as b:
            sent = {"sessions": 0, "purchase": 0}
            for proxy, n in ((a.url, 23), (b.url, 17)):
                with httpx.Client(base_url=proxy, headers=BROWSER) as c:
                    for i in range(n):
                        _, buys = shop(c, "search", device_cookie(f"{proxy}-{i}"))
                        sent["sessions"] += 1
                        sent["purchase"] += buys
            deadline = time.monotonic() + 20
            while True:
                body = httpx.get(a.url + "/_intentgate/api/experiments/shared",
                                 headers=AUTH).json()
                got = {k: sum(g[k] for g in body["totals"].values()) for k in sent}
                if got == sent or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert body["shared"] is True
            assert got == sent
            # The other process reads the same shared totals, once what the first one still
            # held locally has been flushed (write-behind).
            deadline = time.monotonic() + 20
            while True:
                body = httpx.get(a.url + "/_intentgate/api/experiments/shared",
                                 headers=AUTH).json()
                other = httpx.get(b.url + "/_intentgate/api/experiments/shared",
                                  headers=AUTH).json()
                if other["totals"] == body["totals"] or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert other["totals"] == body["totals"]
            assert client.exists(f"{prefix}:{{exp:shared}}:c") == 1
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_experiment_lift_cli_prints_the_same_from_the_api_and_from_recorded_events(
    sim_origin: tuple[str, SimOrigin], tmp_path: Any, capsys: pytest.CaptureFixture[str],
) -> None:
    from proxy.commands.lift import main as lift_main
    from tests.e2e.conftest import run_proxy

    upstream, _ = sim_origin
    events = tmp_path / "events"
    with run_proxy(upstream, tmp_path, preset="shopify", expose_headers=True,
                   admin_token=TOKEN, experiment="cli", holdout_share=0.4,
                   bot_max_rate=100_000, budget_ms=1000, record_events=True,
                   record_dir=str(events)) as proxy:
        with httpx.Client(base_url=proxy, headers=BROWSER) as c:
            for i in range(30):
                for persona in ("price", "explore"):
                    shop(c, persona, device_cookie(f"cli-{persona}-{i}"))
        assert lift_main(["--url", proxy, "--token", TOKEN, "--json"]) == 0
        live = orjson.loads(capsys.readouterr().out)
        assert lift_main(["--url", proxy, "--token", TOKEN]) == 0
        text = capsys.readouterr().out
    # The proxy has shut down: its recorder wrote every event, tagged with the group.
    assert lift_main(["--events", str(events / "events.jsonl"), "--json"]) == 0
    offline = orjson.loads(capsys.readouterr().out)
    assert live["experiment"] == offline["experiment"] == "cli"
    for group in ("treatment", "holdout"):
        for metric in ("sessions", "cart", "checkout", "purchase"):
            assert live["totals"][group][metric] == offline["totals"][group][metric]
    assert {c["class"] for c in live["classes"]} == {c["class"] for c in offline["classes"]}
    assert offline["sessions_without_group"] == 0
    for sentence in live["sentences"]:
        assert sentence in text
    assert "experiment cli" in text and "treatment" in text


@pytest.mark.parametrize("argv, message", [
    ([], "one of the arguments --url --events is required"),
    (["--url", "http://127.0.0.1:9", "--experiment", "Bad Name"], "experiment names are"),
    (["--url", "http://127.0.0.1:9", "--experiment", "x"], "cannot reach"),
])
def test_experiment_lift_cli_errors_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str],
) -> None:
    from proxy.commands.cli import main as cli_main

    with pytest.raises(SystemExit) as exc:
        code = cli_main(["lift", *argv])
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert "Traceback" not in err
