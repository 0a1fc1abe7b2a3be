"""The demo storefront as an ASGI app: Shopify-style URLs, server-rendered HTML, a cookie cart,
and ``X-Intent-Identify`` on sign-in so the shop can name the shopper to intentgate.

It is the upstream for the demo, the tests and the load tests, not the proxy's hot path; still,
pages are joined from prerendered parts and the shop keeps no server-side state. Client input
never causes a 500: bad input is a 400 page (JSON for the ``.js`` endpoints) with the reason.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from proxy.demo_shop import cookies
from proxy.demo_shop.catalog import BY_COLLECTION, COLLECTIONS, PRODUCTS, Product, search
from proxy.demo_shop.pages import SORTS, ShopPages, product_url
from proxy.types import Message, Receive, Scope, Send

ASSETS = Path(__file__).parent / "assets"
ASSET_CACHE_CONTROL = b"public, max-age=3600"
IDENTIFY = "X-Intent-Identify"
MAX_BODY = 16 * 1024  # the shop's forms are a few hundred bytes
MAX_QUERY = 200
MAX_COMPARE = 6
_PRICE = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,2})?")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")
_COOKIE_OPTS: dict[str, Any] = {"path": "/", "httponly": True, "samesite": "lax"}
_INTENT_PREFIX = b"x-intent-"


class BadInput(Exception):
    """Client input the shop refuses; becomes an error page with ``reason`` (never a 500)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


# -- reading requests -----------------------------------------------------------------------


async def _body(request: Request) -> bytes:
    """The request body, refused past ``MAX_BODY`` without reading the rest into memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BadInput(f"request body over {MAX_BODY} bytes", 413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadInput(f"request body over {MAX_BODY} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


async def _fields(request: Request) -> dict[str, Any]:
    """Form or JSON fields of a POST, with the query string filling fields the body lacks
    (Shopify themes put ``id`` and ``quantity`` in either place)."""
    body = await _body(request)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, Any]
    if ctype == "application/json":
        try:
            data = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            raise BadInput("the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadInput("the JSON body must be an object")
        fields = data
    elif ctype in ("application/x-www-form-urlencoded", "") or not body:
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                    max_num_fields=20))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadInput(f"the form body could not be read: {exc}") from None
    else:
        raise BadInput("send forms as application/x-www-form-urlencoded or JSON", 415)
    for key, value in request.query_params.items():
        fields.setdefault(key, value)
    return fields


def _product_field(fields: Mapping[str, Any]) -> Product:
    handle = fields.get("id")
    if not isinstance(handle, str) or not handle:
        raise BadInput("missing field 'id' (the product handle)")
    product = PRODUCTS.get(handle)
    if product is None:
        raise BadInput(f"unknown product {handle[:60]!r}")
    return product


def _quantity(fields: Mapping[str, Any], *, default: int | None) -> int:
    """A quantity 0..MAX_QTY from a form string or a JSON integer."""
    raw = fields.get("quantity")
    if raw is None or raw == "":
        if default is None:
            raise BadInput("missing field 'quantity'")
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise BadInput("quantity must be a whole number")
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise BadInput(f"quantity must be a whole number from 0 to {cookies.MAX_QTY}, "
                       f"got {text[:20]!r}")
    qty = int(text)
    if qty > cookies.MAX_QTY:
        raise BadInput(f"quantity must be at most {cookies.MAX_QTY}, got {qty}")
    return qty


def _price_param(request: Request, name: str) -> Decimal | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    if not _PRICE.fullmatch(raw):
        raise BadInput(f"{name} must be a price such as 100 or 99.50, got {raw[:20]!r}")
    return Decimal(raw)


def _wants_json(request: Request) -> bool:
    """The Ajax cart endpoints (``/cart/*.js``) answer errors in JSON, as Shopify's do."""
    path = request.url.path
    return path.startswith("/cart/") and path.endswith(".js")


def _intent_headers(request: Request) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw
            if k.lower().startswith(_INTENT_PREFIX)]


# -- the shop ---------------------------------------------------------------------------------


class DemoShop:
    """Request handlers over one prerendered ``ShopPages``."""

    def __init__(self) -> None:
        self.pages = ShopPages()

    def page(self, request: Request, title: str, body: str, status: int = 200,
             *, cart: Mapping[str, int] | None = None, query: str = "") -> HTMLResponse:
        if cart is None:
            cart = cookies.parse_cart(request.cookies.get(cookies.CART), PRODUCTS)
        html = self.pages.layout(
            title, body, intent=_intent_headers(request), cart_count=sum(cart.values()),
            user=cookies.parse_user(request.cookies.get(cookies.USER)), query=query)
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, status: int, reason: str,
              headers: Mapping[str, str] | None = None) -> Response:
        if _wants_json(request):
            return JSONResponse({"status": status, "error": reason}, status, headers=headers)
        title, body = self.pages.error(status, reason)
        response = self.page(request, title, body, status)
        if headers:
            response.headers.update(headers)
        return response

    # catalog ---------------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return self.page(request, "Welcome", self.pages.home())

    async def collection(self, request: Request) -> Response:
        handle = request.path_params["handle"]
        if handle == "sale":
            return self.page(request, "Sale", self.pages.sale())
        if handle == "all":
            products, title = list(PRODUCTS.values()), "All products"
        elif handle in BY_COLLECTION:
            products, title = list(BY_COLLECTION[handle]), COLLECTIONS[handle]
        else:
            return self.error(request, 404, f"There is no collection called {handle[:60]!r}.")
        low = _price_param(request, "filter.v.price.gte")
        high = _price_param(request, "filter.v.price.lte")
        if low is not None:
            products = [p for p in products if p.price >= low]
        if high is not None:
            products = [p for p in products if p.price <= high]
        sort = request.query_params.get("sort_by")
        if sort == "price-ascending":
            products.sort(key=lambda p: p.price)
        elif sort == "price-descending":
            products.sort(key=lambda p: p.price, reverse=True)
        elif sort == "title-ascending":
            products.sort(key=lambda p: p.title.lower())
        body = self.pages.collection(handle, products, sort=sort if sort in SORTS else None,
                                     low=low, high=high)
        return self.page(request, title, body)

    async def sale(self, request: Request) -> Response:
        return self.page(request, "Sale", self.pages.sale())

    async def product(self, request: Request) -> Response:
        handle = request.path_params["handle"]
        if handle not in PRODUCTS:
            return self.error(request, 404, f"There is no product called {handle[:60]!r}.")
        return self.page(request, PRODUCTS[handle].title, self.pages.product(handle))

    async def reviews(self, request: Request) -> Response:
        handle = request.path_params["handle"]
        if handle not in PRODUCTS:
            return self.error(request, 404, f"There is no product called {handle[:60]!r}.")
        return self.page(request, f"Reviews of {PRODUCTS[handle].title}",
                         self.pages.reviews(handle))

    async def search(self, request: Request) -> Response:
        query = " ".join(request.query_params.get("q", "").split())[:MAX_QUERY]
        found = search(query) if query else []
        return self.page(request, "Search", self.pages.search(query, found), query=query)

    async def compare(self, request: Request) -> Response:
        handles: list[str] = []
        for handle in request.query_params.get("products", "").split(","):
            handle = handle.strip()[:60]
            if handle and handle not in handles:
                handles.append(handle)
        if not handles:
            return self.error(request, 400, "name the products to compare: "
                              "/pages/compare?products=a,b,c")
        handles = handles[:MAX_COMPARE]
        found = [PRODUCTS[h] for h in handles if h in PRODUCTS]
        missing = [h for h in handles if h not in PRODUCTS]
        return self.page(request, "Compare", self.pages.compare(found, missing))

    # cart --------------------------------------------------------------------------------------

    def _cart(self, request: Request) -> dict[str, int]:
        return cookies.parse_cart(request.cookies.get(cookies.CART), PRODUCTS)

    @staticmethod
    def _cart_json(cart: Mapping[str, int]) -> dict[str, Any]:
        items = [{"id": h, "handle": h, "title": PRODUCTS[h].title, "quantity": q,
                  "price": str(PRODUCTS[h].price), "line_price": str(PRODUCTS[h].price * q)}
                 for h, q in cart.items()]
        total = sum((PRODUCTS[h].price * q for h, q in cart.items()), Decimal(0))
        return {"items": items, "item_count": sum(cart.values()),
                "total_price": str(total.quantize(Decimal("0.01")))}

    @staticmethod
    def _save_cart(response: Response, cart: Mapping[str, int]) -> None:
        if cart:
            response.set_cookie(cookies.CART, cookies.format_cart(cart), max_age=14 * 86400,
                                **_COOKIE_OPTS)
        else:
            response.delete_cookie(cookies.CART, path="/")

    async def cart_page(self, request: Request) -> Response:
        cart = self._cart(request)
        return self.page(request, "Cart", self.pages.cart(cart), cart=cart)

    async def cart_add(self, request: Request) -> Response:
        fields = await _fields(request)
        product = _product_field(fields)
        qty = _quantity(fields, default=1)
        cart = self._cart(request)
        if qty:
            if product.handle not in cart and len(cart) >= cookies.MAX_LINES:
                raise BadInput(f"a cart holds at most {cookies.MAX_LINES} different products")
            cart[product.handle] = min(cart.get(product.handle, 0) + qty, cookies.MAX_QTY)
        if request.url.path.endswith(".js"):
            response: Response = JSONResponse(self._cart_json(cart))
        else:
            response = RedirectResponse("/cart", status_code=303)
        self._save_cart(response, cart)
        return response

    async def cart_change(self, request: Request) -> Response:
        fields = await _fields(request)
        product = _product_field(fields)
        qty = _quantity(fields, default=None)
        cart = self._cart(request)
        if qty:
            if product.handle not in cart:
                raise BadInput(f"{product.handle!r} is not in the cart")
            cart[product.handle] = qty
        else:
            cart.pop(product.handle, None)
        response = JSONResponse(self._cart_json(cart))
        self._save_cart(response, cart)
        return response

    async def cart_remove(self, request: Request) -> Response:
        fields = await _fields(request)
        product = _product_field(fields)
        cart = self._cart(request)
        cart.pop(product.handle, None)
        response = RedirectResponse("/cart", status_code=303)
        self._save_cart(response, cart)
        return response

    # checkout ----------------------------------------------------------------------------------

    async def checkout(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.place_order(request)
        cart = self._cart(request)
        return self.page(request, "Checkout", self.pages.checkout(cart), cart=cart)

    async def place_order(self, request: Request) -> Response:
        fields = await _fields(request)
        cart = self._cart(request)
        if not cart:
            raise BadInput("your cart is empty: add something before checking out")
        email = fields.get("email")
        if not isinstance(email, str) or not _EMAIL.fullmatch(email.strip()):
            raise BadInput("an email address is needed to place the order")
        # An order reference without server state: a digest of what was ordered, and when.
        digest = hashlib.sha256(f"{cookies.format_cart(cart)}|{email}|{time.time_ns()}".encode())
        response = RedirectResponse("/checkout/thank-you", status_code=303)
        self._save_cart(response, {})
        response.set_cookie(cookies.ORDER, digest.hexdigest()[:8].upper(), max_age=3600,
                            **_COOKIE_OPTS)
        return response

    async def thank_you(self, request: Request) -> Response:
        order = cookies.parse_order(request.cookies.get(cookies.ORDER))
        return self.page(request, "Thank you", self.pages.thank_you(order))

    # wishlist and account ----------------------------------------------------------------------

    async def wishlist_add(self, request: Request) -> Response:
        fields = await _fields(request)
        product = _product_field(fields)
        wishlist = cookies.parse_wishlist(request.cookies.get(cookies.WISHLIST), PRODUCTS)
        if product.handle not in wishlist:
            wishlist.append(product.handle)
        response = RedirectResponse(product_url(product.handle), status_code=303)
        response.set_cookie(cookies.WISHLIST, cookies.format_wishlist(wishlist),
                            max_age=90 * 86400, **_COOKIE_OPTS)
        return response

    async def account(self, request: Request) -> Response:
        user = cookies.parse_user(request.cookies.get(cookies.USER))
        wishlist = cookies.parse_wishlist(request.cookies.get(cookies.WISHLIST), PRODUCTS)
        return self.page(request, "Account", self.pages.account(user, wishlist))

    async def login(self, request: Request) -> Response:
        if request.method != "POST":
            return await self.account(request)
        fields = await _fields(request)
        user = fields.get("user")
        user = user.strip() if isinstance(user, str) else ""
        if not cookies.valid_user(user):
            raise BadInput("form field 'user' must be 1-64 printable ASCII characters "
                           "(and not '-')")
        response = RedirectResponse("/", status_code=303)
        # How the shop names the shopper to intentgate, which removes the header in transit.
        response.headers[IDENTIFY] = user
        response.set_cookie(cookies.USER, user, max_age=30 * 86400, **_COOKIE_OPTS)
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.headers[IDENTIFY] = "-"
        response.delete_cookie(cookies.USER, path="/")
        return response

    # errors ------------------------------------------------------------------------------------

    async def on_bad_input(self, request: Request, exc: Exception) -> Response:
        if not isinstance(exc, BadInput):  # registered for BadInput only
            raise exc
        return self.error(request, exc.status, exc.reason)

    async def on_http_error(self, request: Request, exc: Exception) -> Response:
        if not isinstance(exc, HTTPException):  # registered for HTTPException only
            raise exc
        reason = {404: "Nothing lives at this address.",
                  405: f"{request.method} is not allowed here."}.get(exc.status_code, exc.detail)
        return self.error(request, exc.status_code, reason, exc.headers)


class CachedAssets:
    """Static files under ``/assets/`` with a ``Cache-Control`` header on what they serve."""

    def __init__(self, directory: Path) -> None:
        self.files = StaticFiles(directory=directory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                message["headers"] = [*message.get("headers", ()),
                                      (b"cache-control", ASSET_CACHE_CONTROL)]
            await send(message)

        await self.files(scope, receive, send_cached)


def create_demo_shop() -> Starlette:
    """The demo storefront as an ASGI app (Starlette); all pages prerendered here."""
    shop = DemoShop()
    routes = [
        Route("/", shop.home),
        Route("/collections/{handle}", shop.collection),
        Route("/products/{handle}", shop.product),
        Route("/products/{handle}/reviews", shop.reviews),
        Route("/search", shop.search),
        Route("/pages/compare", shop.compare),
        Route("/pages/sale", shop.sale),
        Route("/cart", shop.cart_page),
        Route("/cart/add", shop.cart_add, methods=["POST"]),
        Route("/cart/add.js", shop.cart_add, methods=["POST"]),
        Route("/cart/change.js", shop.cart_change, methods=["POST"]),
        Route("/cart/remove", shop.cart_remove, methods=["POST"]),
        Route("/checkout", shop.checkout, methods=["GET", "POST"]),
        Route("/checkout/thank-you", shop.thank_you),
        Route("/wishlist/add", shop.wishlist_add, methods=["POST"]),
        Route("/account", shop.account),
        Route("/account/login", shop.login, methods=["GET", "POST"]),
        Route("/account/logout", shop.logout, methods=["POST"]),
        Mount("/assets", app=CachedAssets(ASSETS), name="assets"),
    ]
    return Starlette(routes=routes, exception_handlers={
        BadInput: shop.on_bad_input, HTTPException: shop.on_http_error,
    })

