"""Shopper personas for locust: each user has its own cookie jar, think times, and a script of
what that kind of shopper does on the demo storefront. Every response's ``X-Intent-Class`` (the
proxy runs with ``--expose-headers``) is recorded per persona and step, and written out as JSON
when the run stops, for ``loadtests.run`` to print the persona × class table.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import defaultdict
from typing import Any

from locust import HttpUser, between, events, task

BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
}
_PRODUCT = re.compile(r'href="/products/([a-z0-9-]+)"')
_COLLECTION = re.compile(r'href="/collections/([a-z0-9-]+)"')

# persona -> list of (step index, class) observations
OBSERVED: dict[str, list[tuple[int, str]]] = defaultdict(list)
CATALOG: dict[str, list[str]] = {}


def _catalog(client: Any) -> dict[str, list[str]]:
    if not CATALOG:
        page = client.get("/", headers=BROWSER_HEADERS, name="catalog").text
        CATALOG["products"] = sorted(set(_PRODUCT.findall(page))) or ["missing"]
        CATALOG["collections"] = sorted(set(_COLLECTION.findall(page)) - {"sale"}) or ["all"]
        for handle in CATALOG["collections"][:6]:
            more = client.get(f"/collections/{handle}", headers=BROWSER_HEADERS,
                              name="catalog").text
            CATALOG["products"] = sorted(set(CATALOG["products"]) | set(_PRODUCT.findall(more)))
    return CATALOG


class Shopper(HttpUser):
    abstract = True
    persona = "shopper"
    wait_time = between(0.05, 0.2)  # compressed think time: minutes of browsing in seconds

    def on_start(self) -> None:
        self.client.headers.update(BROWSER_HEADERS)
        self.step = 0
        self.cat = _catalog(self.client)

    def product(self) -> str:
        return random.choice(self.cat["products"])

    def collection(self) -> str:
        return random.choice(self.cat["collections"])

    def get(self, path: str, name: str) -> None:
        self._observe(self.client.get(path, name=name))

    def post(self, path: str, name: str, **kw: Any) -> None:
        self._observe(self.client.post(path, name=name, allow_redirects=False, **kw))

    def _observe(self, resp: Any) -> None:
        self.step += 1
        cls = resp.headers.get("X-Intent-Class")
        if cls:
            OBSERVED[self.persona].append((self.step, cls))


class ComparisonShopper(Shopper):
    persona = "comparison-shopper"

    @task
    def compare(self) -> None:
        picks = random.sample(self.cat["products"], k=min(3, len(self.cat["products"])))
        for handle in picks:
            self.get(f"/products/{handle}", "/products/[handle]")
        self.get(f"/pages/compare?products={','.join(picks)}", "/pages/compare")
        self.get(f"/pages/compare?products={','.join(picks[:2])}", "/pages/compare")


class PriceSensitiveResearcher(Shopper):
    persona = "price-sensitive-researcher"

    @task
    def research(self) -> None:
        c = self.collection()
        self.get(f"/collections/{c}?sort_by=price-ascending", "/collections/[c]?sort_by")
        self.get("/pages/sale", "/pages/sale")
        self.get(f"/products/{self.product()}", "/products/[handle]")
        self.get(f"/collections/{c}?filter.v.price.lte=100", "/collections/[c]?filter")


class DecisiveBuyer(Shopper):
    persona = "decisive-buyer"

    @task
    def buy(self) -> None:
        handle = self.product()
        self.get(f"/products/{handle}", "/products/[handle]")
        self.post("/cart/add", "/cart/add", data={"id": handle, "quantity": "1"})
        self.get("/checkout", "/checkout")
        self.post("/checkout", "/checkout [POST]", data={"email": "shopper@example.com"})


class CasualBrowser(Shopper):
    persona = "casual-browser"
    wait_time = between(0.3, 0.8)

    @task
    def browse(self) -> None:
        self.get("/", "/")
        self.get(f"/collections/{self.collection()}", "/collections/[c]")


class SearchLedBrowser(Shopper):
    persona = "search-led-browser"

    @task
    def search(self) -> None:
        term = random.choice(["headphones", "laptop", "camera", "watch", "speaker", "lamp"])
        self.get(f"/search?q={term}", "/search")
        self.get(f"/products/{self.product()}", "/products/[handle]")


class Bot(HttpUser):
    """A declared crawler: must be forwarded untouched (no class header at all)."""

    persona = "bot"
    wait_time = between(0.05, 0.1)

    def on_start(self) -> None:
        self.client.headers.update({"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})

    @task
    def crawl(self) -> None:
        resp = self.client.get("/", name="bot /")
        OBSERVED["bot"].append((0, resp.headers.get("X-Intent-Class", "none")))


@events.test_stop.add_listener
def _dump(**_: Any) -> None:
    out = os.environ.get("INTENTGATE_LOADTEST_OUT")
    if out:
        with open(out, "w") as fh:
            json.dump(OBSERVED, fh)
