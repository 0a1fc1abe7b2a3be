"""A storefront unlike any preset, for ``routes suggest``: its own URL scheme, its own access log,
and scripted shoppers.

Scheme: products ``/p/<id>-<slug>.html`` (an old slug answers 301), categories ``/c/<a>/`` and
``/c/<a>/<b>/`` (``?sort=price-asc|price-desc|newest``, ``?page=``), search ``/s?query=``, reviews
``/p/<id>-<slug>/reviews``, offers ``/<locale>/offers``, compare ``/compare?ids=``, the bag
``POST /bag/items`` (303 back to the product), ``POST /bag/items/<id>/delete``, favourites
``POST /favorites/<id>``, checkout ``/checkout/address`` → ``/checkout/payment`` →
``POST /checkout/place`` (303) → ``/order/<token>/complete``; a locale prefix (``/en``, ``/de``)
on some pages; ``/`` answers 302 to ``/en/``. It writes an nginx-style combined log with the
``Cookie`` header appended (including a cookie with escaped quotes).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

TOPS = {"audio": ["headphones", "speakers", "microphones"],
        "home": ["lamps", "chairs", "rugs"],
        "garden": ["tools", "planters", "hoses"],
        "kitchen": ["knives", "pans", "kettles"]}
WORDS = ["blue", "steel", "compact", "pro", "classic", "wireless", "oak", "mini", "ultra", "eco"]
PRODUCTS: dict[int, tuple[str, str, str, int]] = {}  # id -> (slug, top, sub, price)
_rng = random.Random(7)
for pid in range(101, 161):
    top = _rng.choice(list(TOPS))
    sub = _rng.choice(TOPS[top])
    slug = f"{_rng.choice(WORDS)}-{_rng.choice(WORDS)}-{sub.rstrip('s')}"
    PRODUCTS[pid] = (slug, top, sub, _rng.randint(5, 400))
QUERIES = ["red lamp", "wireless headphones", "garden hose", "chef knife", "oak chair",
           "kettle", "speaker", "planter large", "rug 200x300", "microphone usb"]

HAND_RULES = """\
preset = "none"

[[rules]]
name = "product"
kind = "product_view"
path = "/**/p/{product}.html"

[[rules]]
name = "reviews"
kind = "review_view"
path = "/**/p/{product}/reviews"

[[rules]]
name = "category"
kind = "category_view"
path = "/**/c/{category+}"

[[rules]]
name = "price-sort"
kind = "price_sort_or_filter"
path = "/**/c/{category+}"
query = { sort = "price-asc|price-desc" }

[[rules]]
name = "search"
kind = "search"
path = "/**/s"
query = { query = "*" }
capture = { query = "query" }

[[rules]]
name = "offers"
kind = "deal_view"
path = "/*/offers"

[[rules]]
name = "compare"
kind = "compare"
path = "/compare"
query = { ids = "*" }
capture = { items = "ids" }

[[rules]]
name = "bag-add"
kind = "cart_add"
method = "POST"
path = "/bag/items"

[[rules]]
name = "bag-remove"
kind = "cart_remove"
method = "POST"
path = "/bag/items/*/delete"

[[rules]]
name = "favorite"
kind = "wishlist_add"
method = "POST"
path = "/favorites/{product}"

[[rules]]
name = "checkout"
kind = "checkout_step"
method = ["GET", "POST"]
path = "/checkout/*"

[[rules]]
name = "order-complete"
kind = "purchase"
path = "/order/*/complete"

[[rules]]
name = "api"
kind = "ignore"
method = "*"
path = "/api/**"
"""


def product_url(pid: int, locale: str = "") -> str:
    return f"{locale}/p/{pid}-{PRODUCTS[pid][0]}.html"


def _page(title: str, body: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><title>{title}</title><h1>{title}</h1>{body}", status)


async def home(request: Request) -> Response:
    return RedirectResponse("/en/", 302)


async def locale_home(request: Request) -> Response:
    return _page("Home")


async def product(request: Request) -> Response:
    pid_slug = request.path_params["pid_slug"]
    pid_text, _, slug = pid_slug.partition("-")
    if not pid_text.isdigit() or int(pid_text) not in PRODUCTS:
        return _page("Not found", status=404)
    pid = int(pid_text)
    if slug != PRODUCTS[pid][0]:
        locale = request.path_params.get("locale")
        return RedirectResponse(product_url(pid, f"/{locale}" if locale else ""), 301)
    return _page(PRODUCTS[pid][0])


async def reviews(request: Request) -> Response:
    return _page("Reviews")


async def category(request: Request) -> Response:
    top = request.path_params["top"]
    sub = request.path_params.get("sub")
    if top not in TOPS or (sub is not None and sub not in TOPS[top]):
        return _page("Not found", status=404)
    return _page(f"{top} {sub or ''}")


async def search(request: Request) -> Response:
    return _page("Search " + request.query_params.get("query", ""))


async def offers(request: Request) -> Response:
    return _page("Offers")


async def compare(request: Request) -> Response:
    return _page("Compare")


async def bag(request: Request) -> Response:
    return _page("Bag")


async def bag_add(request: Request) -> Response:
    await request.body()  # a shop reads its forms
    back = request.headers.get("referer", "/bag")
    return RedirectResponse(back, 303)


async def bag_delete(request: Request) -> Response:
    await request.body()  # a shop reads its forms
    return RedirectResponse("/bag", 303)


async def favorite(request: Request) -> Response:
    await request.body()  # a shop reads its forms
    return RedirectResponse(request.headers.get("referer", "/"), 303)


async def checkout_page(request: Request) -> Response:
    return _page("Checkout " + request.path_params["step"])


async def checkout_post(request: Request) -> Response:
    await request.body()  # a shop reads its forms
    step = request.path_params["step"]
    if step == "place":
        token = hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:20]
        return RedirectResponse(f"/order/{token}/complete", 303)
    return RedirectResponse("/checkout/payment", 303)


async def order_complete(request: Request) -> Response:
    return _page("Thank you for your order")


async def account(request: Request) -> Response:
    return _page("Account")


async def login_post(request: Request) -> Response:
    await request.body()  # a shop reads its forms
    return RedirectResponse("/account/orders", 303)


async def info(request: Request) -> Response:
    return _page(request.path_params["page"])


async def stock(request: Request) -> Response:
    return JSONResponse({"stock": 3})


async def static(request: Request) -> Response:
    return Response(b"body{}", media_type="text/css")


def create_altshop(log: Callable[[str], None]) -> Any:
    routes = [
        Route("/", home),
        Route("/{locale:str}/", locale_home),
        Route("/p/{pid_slug}.html", product),
        Route("/{locale}/p/{pid_slug}.html", product),
        Route("/p/{pid_slug}/reviews", reviews),
        Route("/c/{top}/", category),
        Route("/c/{top}/{sub}/", category),
        Route("/{locale}/c/{top}/", category),
        Route("/{locale}/c/{top}/{sub}/", category),
        Route("/s", search),
        Route("/{locale}/s", search),
        Route("/{locale}/offers", offers),
        Route("/compare", compare),
        Route("/bag", bag),
        Route("/bag/items", bag_add, methods=["POST"]),
        Route("/bag/items/{pid}/delete", bag_delete, methods=["POST"]),
        Route("/favorites/{pid}", favorite, methods=["POST"]),
        Route("/checkout/{step}", checkout_page, methods=["GET"]),
        Route("/checkout/{step}", checkout_post, methods=["POST"]),
        Route("/order/{token}/complete", order_complete),
        Route("/account/login", account, methods=["GET"]),
        Route("/account/login", login_post, methods=["POST"]),
        Route("/account/{page}", account),
        Route("/pages/{page}", info),
        Route("/api/stock/{pid}", stock),
        Route("/static/{name}", static),
    ]
    app = Starlette(routes=routes)
    return AccessLog(app, log)


class AccessLog:
    """nginx ``combined`` + ``"$http_cookie"`` (Apache-style ``\\"`` escapes), one line per
    response, written as the response starts."""

    def __init__(self, app: Any, log: Callable[[str], None]) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}

        async def send_logged(message: Any) -> None:
            if message["type"] == "http.response.start":
                target = scope["raw_path"].decode("latin-1")
                if scope["query_string"]:
                    target += "?" + scope["query_string"].decode("latin-1")
                when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())

                def q(v: str) -> str:
                    return v.replace("\\", "\\\\").replace('"', '\\"') or "-"

                self.log(f'{scope["client"][0]} - - [{when}] "{scope["method"]} {target} '
                         f'HTTP/1.1" {message["status"]} 0 "{q(headers.get("referer", ""))}" '
                         f'"{q(headers.get("user-agent", ""))}" "{q(headers.get("cookie", ""))}"')
            await send(message)

        await self.app(scope, receive, send_logged)


# -- scripted shoppers -----------------------------------------------------------------------


def browse(base: str, shoppers: int = 40, seed: int = 1) -> None:
    """Browse the shop with ``shoppers`` scripted shoppers (browsers, searchers, deal hunters,
    buyers), following redirects as a browser does."""
    import httpx

    rng = random.Random(seed)
    kinds = ["browser", "searcher", "deals", "buyer"]
    for n in range(shoppers):
        kind = kinds[n % len(kinds)]
        cookies = {"ig_sid": f"s{n:04d}x{rng.randint(1000, 9999)}",
                   "prefs": '"{\\"theme\\": \\"dark\\"}"'}
        ua = f"Mozilla/5.0 (X11; Linux) Shopper/{n}"
        with httpx.Client(base_url=base, follow_redirects=True, cookies=cookies,
                          headers={"user-agent": ua, "accept": "text/html,*/*",
                                   "accept-language": "en-GB,en;q=0.8"}) as c:
            locale = rng.choice(["", "", "/en", "/de"])
            c.get("/")
            c.get("/static/app.css")
            c.get(f"/api/stock/{rng.choice(list(PRODUCTS))}")
            seen: list[int] = []
            for _ in range(rng.randint(3, 8)):
                top = rng.choice(list(TOPS))
                if rng.random() < 0.5:
                    c.get(f"{locale}/c/{top}/")
                else:
                    sub = rng.choice(TOPS[top])
                    c.get(f"{locale}/c/{top}/{sub}/")
                    if kind in ("deals", "browser") and rng.random() < 0.5:
                        c.get(f"/c/{top}/{sub}/",
                              params={"sort": rng.choice(["price-asc", "price-desc", "newest"])})
                    if rng.random() < 0.3:
                        c.get(f"/c/{top}/{sub}/", params={"page": str(rng.randint(2, 4))})
                if kind == "searcher" or rng.random() < 0.2:
                    c.get(f"{locale}/s", params={"query": rng.choice(QUERIES)})
                pid = rng.choice(list(PRODUCTS))
                seen.append(pid)
                c.get(product_url(pid, locale if rng.random() < 0.5 else ""))
                if rng.random() < 0.25:
                    c.get(f"/p/{pid}-{PRODUCTS[pid][0]}/reviews")
                if rng.random() < 0.1:
                    c.get(f"/p/{pid}-old-name.html")  # 301 to the canonical slug
            if kind == "deals":
                c.get(rng.choice(["/en", "/de"]) + "/offers")
                c.get("/compare", params={"ids": ",".join(map(str, seen[:3]))})
                c.post(f"/favorites/{seen[-1]}", headers={"referer": base + product_url(seen[-1])})
            c.get(f"/pages/{rng.choice(['about', 'shipping-info', 'contact', 'returns'])}")
            if kind == "buyer" or rng.random() < 0.2:
                for pid in seen[-2:]:
                    c.post("/bag/items", data={"id": str(pid), "qty": "1"},
                           headers={"referer": base + product_url(pid)})
                c.get("/bag")
                if rng.random() < 0.3:
                    c.post(f"/bag/items/{seen[-1]}/delete")
                if kind == "buyer":
                    c.get("/account/login")
                    c.post("/account/login", data={"user": "a", "password": "b"})
                    c.get("/checkout/address")
                    c.post("/checkout/address", data={"street": "x"})
                    c.post("/checkout/place", data={"pay": "card"})
