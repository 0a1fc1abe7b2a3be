"""The demo storefront: server-rendered HTML at Shopify-style URLs, with a footer that prints the
``X-Intent-*`` headers intentgate sent, so a person sees what the proxy tells the shop.

Not the proxy's hot path (it is the upstream for the demo, tests and load tests), but cheap:
the catalog is built once and the cart lives in a cookie, so there is no shared server state.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from proxy.demo_shop.catalog import BY_COLLECTION, COLLECTIONS, ON_SALE, PRODUCTS, Product, search

ASSETS = Path(__file__).parent / "assets"
CART_COOKIE = "cart"
MAX_QTY = 99
MAX_LINES = 50
IDENTIFY = "X-Intent-Identify"
SORTS = {
    "price-ascending": (lambda p: p.price, False),
    "price-descending": (lambda p: p.price, True),
    "title-ascending": (lambda p: p.title, False),
}


class BadInput(Exception):
    pass


# -- cart cookie --------------------------------------------------------------------------


def read_cart(request: Request) -> dict[str, int]:
    """``handle:qty|handle:qty``; anything malformed is ignored, never an error."""
    raw = request.cookies.get(CART_COOKIE, "")
    cart: dict[str, int] = {}
    for part in raw.split("|")[:MAX_LINES]:
        handle, _, qty = part.partition(":")
        if handle in PRODUCTS and qty.isdigit() and 0 < int(qty) <= MAX_QTY:
            cart[handle] = int(qty)
    return cart


def write_cart(response: Response, cart: dict[str, int]) -> None:
    value = "|".join(f"{h}:{q}" for h, q in cart.items())
    if value:
        response.set_cookie(CART_COOKIE, value, path="/", httponly=True, samesite="lax")
    else:
        response.delete_cookie(CART_COOKIE, path="/")


def _qty(raw: Any, default: int = 1) -> int:
    if raw is None or raw == "":
        return default
    try:
        q = int(str(raw))
    except ValueError:
        raise BadInput(f"quantity must be a whole number, got {str(raw)[:20]!r}") from None
    if not 0 <= q <= MAX_QTY:
        raise BadInput(f"quantity must be between 0 and {MAX_QTY}")
    return q


async def _fields(request: Request) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "")
    body = await request.body()
    if len(body) > 64 * 1024:
        raise BadInput("request body too large")
    if "application/json" in ctype:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise BadInput("body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadInput("JSON body must be an object")
        return data
    if "multipart/" in ctype:
        raise BadInput("send forms as application/x-www-form-urlencoded")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise BadInput("form body is not UTF-8") from None


def _product_field(fields: dict[str, Any]) -> Product:
    handle = fields.get("id") or fields.get("handle")
    if not isinstance(handle, str) or not handle:
        raise BadInput("missing product id")
    product = PRODUCTS.get(handle)
    if product is None:
        raise BadInput(f"unknown product {handle[:60]!r}")
    return product


# -- rendering ----------------------------------------------------------------------------


def money(value: Decimal) -> str:
    return f"€{value:,.2f}"


def _footer(request: Request) -> str:
    rows = [(k, v) for k, v in request.headers.items() if k.lower().startswith("x-intent-")]
    if rows:
        items = "".join(f"<li><code>{escape(k)}</code>: <strong>{escape(v)}</strong></li>"
                        for k, v in rows)
        inner = f"<ul>{items}</ul>"
    else:
        inner = "<p>no X-Intent-* headers (not behind intentgate, or unclassified)</p>"
    return f'<footer id="intent"><h2>What intentgate told this shop</h2>{inner}</footer>'


def page(request: Request, title: str, body: str, status: int = 200) -> HTMLResponse:
    cart_n = sum(read_cart(request).values())
    nav = "".join(f'<a href="/collections/{h}">{escape(n)}</a>' for h, n in COLLECTIONS.items())
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · Demo Shop</title>
<link rel="stylesheet" href="/assets/shop.css">
<script src="/_intentgate/beacon.js" defer></script>
<script src="/assets/shop.js" defer></script>
</head><body>
<header><a class="logo" href="/">Demo Shop</a><nav>{nav}<a href="/pages/sale">Sale</a></nav>
<form action="/search" method="get" role="search"><input name="q" placeholder="Search"
 aria-label="Search"></form>
<a class="cart" href="/cart">Cart ({cart_n})</a></header>
<main><h1>{escape(title)}</h1>{body}</main>
{_footer(request)}
</body></html>"""
    return HTMLResponse(html, status_code=status)


def _card(p: Product) -> str:
    price = money(p.price)
    if p.compare_at is not None:
        price += f" <s>{money(p.compare_at)}</s>"
    return (f'<li class="card"><a href="/products/{p.handle}">'
            f'<img src="/assets/{p.collection}.svg" alt="" width="120" height="90">'
            f"<span>{escape(p.title)}</span></a><span class=price>{price}</span></li>")


def _grid(products: Any) -> str:
    return '<ul class="grid">' + "".join(_card(p) for p in products) + "</ul>"


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "Not found" if status == 404 else "Bad request",
                f"<p>{escape(message)}</p>", status)


# -- pages --------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    body = "".join(
        f'<section><h2><a href="/collections/{h}">{escape(n)}</a></h2>'
        f"{_grid(BY_COLLECTION[h][:3])}</section>" for h, n in COLLECTIONS.items()
    )
    return page(request, "Welcome", body)


async def collection(request: Request) -> Response:
    handle = request.path_params["handle"]
    if handle == "sale":
        return page(request, "Sale", _grid(ON_SALE))
    if handle == "all":
        products = list(PRODUCTS.values())
    elif handle in BY_COLLECTION:
        products = list(BY_COLLECTION[handle])
    else:
        return error_page(request, 404, f"No collection called {handle!r}.")
    q = request.query_params
    try:
        lo = Decimal(q["filter.v.price.gte"]) if q.get("filter.v.price.gte") else None
        hi = Decimal(q["filter.v.price.lte"]) if q.get("filter.v.price.lte") else None
    except InvalidOperation:
        return error_page(request, 400, "price filter must be a number")
    if lo is not None:
        products = [p for p in products if p.price >= lo]
    if hi is not None:
        products = [p for p in products if p.price <= hi]
    sort = q.get("sort_by")
    if sort in SORTS:
        key, reverse = SORTS[sort]
        products.sort(key=key, reverse=reverse)
    links = " · ".join(f'<a href="?sort_by={s}">{s.replace("-", " ")}</a>' for s in SORTS)
    title = COLLECTIONS.get(handle, "All products")
    return page(request, title, f"<p class=sort>Sort: {links}</p>{_grid(products)}")


def _product_or_404(request: Request) -> Product | Response:
    product = PRODUCTS.get(request.path_params["handle"])
    if product is None:
        return error_page(request, 404, "No such product.")
    return product


async def product_page(request: Request) -> Response:
    p = _product_or_404(request)
    if isinstance(p, Response):
        return p
    others = [o.handle for o in BY_COLLECTION[p.collection] if o.handle != p.handle][:2]
    compare = ",".join([p.handle, *others])
    reviews = "".join(f"<li><strong>{escape(a)}</strong> {'★' * s}{'☆' * (5 - s)} "
                      f"{escape(t)}</li>" for a, s, t in p.reviews)
    old = f" <s>{money(p.compare_at)}</s>" if p.compare_at is not None else ""
    body = f"""<div class="product"><img src="/assets/{p.collection}.svg" alt="" width="240"
 height="180"><div><p class="price">{money(p.price)}{old}</p><p>{escape(p.description)}</p>
<form method="post" action="/cart/add" data-ajax-cart><input type="hidden" name="id"
 value="{p.handle}"><label>Quantity <input name="quantity" type="number" value="1" min="1"
 max="{MAX_QTY}"></label> <button>Add to cart</button></form>
<form method="post" action="/wishlist/add"><input type="hidden" name="id" value="{p.handle}">
<button class="secondary">Save to wishlist</button></form>
<p><a href="/pages/compare?products={compare}">Compare with similar</a> ·
<a href="/products/{p.handle}/reviews">All reviews</a></p></div></div>
<section id="reviews"><h2>Reviews ({p.rating} / 5)</h2><ul>{reviews}</ul></section>"""
    return page(request, p.title, body)


async def reviews_page(request: Request) -> Response:
    p = _product_or_404(request)
    if isinstance(p, Response):
        return p
    items = "".join(f"<li><strong>{escape(a)}</strong> {s}/5: {escape(t)}</li>"
                    for a, s, t in p.reviews)
    return page(request, f"Reviews of {p.title}",
                f"<p>Average {p.rating} / 5</p><ul>{items}</ul>"
                f'<p><a href="/products/{p.handle}">Back to the product</a></p>')


async def search_page(request: Request) -> Response:
    q = request.query_params.get("q", "").strip()[:100]
    if not q:
        return page(request, "Search", "<p>Type something to search for.</p>")
    found = search(q)
    body = (f"<p>{len(found)} results for <q>{escape(q)}</q></p>{_grid(found)}" if found
            else f"<p>No products match <q>{escape(q)}</q>.</p>")
    return page(request, "Search", body)


async def compare_page(request: Request) -> Response:
    handles = [h for h in request.query_params.get("products", "").split(",") if h][:10]
    if not handles:
        return error_page(request, 400, "name the products to compare: ?products=a,b")
    known = [PRODUCTS[h] for h in handles if h in PRODUCTS]
    missing = [h for h in handles if h not in PRODUCTS]
    rows = "".join(f"<tr><td><a href='/products/{p.handle}'>{escape(p.title)}</a></td>"
                   f"<td>{money(p.price)}</td><td>{p.rating}</td>"
                   f"<td>{escape(p.description)}</td></tr>" for p in known)
    body = ("<table><tr><th>Product</th><th>Price</th><th>Rating</th><th>About</th></tr>"
            f"{rows}</table>")
    if missing:
        body += "<p>Not found: " + ", ".join(escape(m) for m in missing) + "</p>"
    return page(request, "Compare", body)


async def sale_page(request: Request) -> Response:
    return page(request, "Sale", _grid(ON_SALE))


def _cart_body(cart: dict[str, int]) -> str:
    if not cart:
        return "<p>Your cart is empty.</p>"
    total = sum((PRODUCTS[h].price * q for h, q in cart.items()), Decimal(0))
    rows = "".join(
        f"<tr><td>{escape(PRODUCTS[h].title)}</td><td>{q}</td>"
        f"<td>{money(PRODUCTS[h].price * q)}</td><td><form method=post action=/cart/remove>"
        f"<input type=hidden name=id value={h}><button class=link>Remove</button></form></td></tr>"
        for h, q in cart.items()
    )
    return (f"<table>{rows}<tr><th>Total</th><td></td><th>{money(total)}</th></tr></table>"
            '<p><a class="button" href="/checkout">Check out</a></p>')


async def cart_page(request: Request) -> Response:
    return page(request, "Cart", _cart_body(read_cart(request)))


async def cart_add(request: Request) -> Response:
    fields = await _fields(request)
    product = _product_field(fields)
    qty = _qty(fields.get("quantity"))
    cart = read_cart(request)
    if qty:
        cart[product.handle] = min(cart.get(product.handle, 0) + qty, MAX_QTY)
    if request.url.path.endswith(".js"):
        response: Response = JSONResponse(_cart_json(cart))
    else:
        response = RedirectResponse("/cart", status_code=303)
    write_cart(response, cart)
    return response


def _cart_json(cart: dict[str, int]) -> dict[str, Any]:
    return {"items": [{"id": h, "quantity": q, "price": str(PRODUCTS[h].price)}
                      for h, q in cart.items()],
            "item_count": sum(cart.values())}


async def cart_change(request: Request) -> Response:
    fields = await _fields(request)
    product = _product_field(fields)
    raw_qty = request.query_params.get("quantity", fields.get("quantity"))
    qty = _qty(raw_qty, default=0)
    cart = read_cart(request)
    if qty:
        cart[product.handle] = qty
    else:
        cart.pop(product.handle, None)
    response = JSONResponse(_cart_json(cart))
    write_cart(response, cart)
    return response


async def cart_remove(request: Request) -> Response:
    fields = await _fields(request)
    product = _product_field(fields)
    cart = read_cart(request)
    cart.pop(product.handle, None)
    response = RedirectResponse("/cart", status_code=303)
    write_cart(response, cart)
    return response


async def checkout(request: Request) -> Response:
    cart = read_cart(request)
    if request.method == "POST":
        if not cart:
            return error_page(request, 400, "your cart is empty")
        response: Response = RedirectResponse("/checkout/thank-you", status_code=303)
        write_cart(response, {})
        return response
    if not cart:
        return page(request, "Checkout", "<p>Your cart is empty.</p>")
    form = ('<form method="post" action="/checkout"><label>Email <input name="email" '
            'type="email" required></label> <button>Place order</button></form>')
    return page(request, "Checkout", _cart_body(cart) + form)


async def thank_you(request: Request) -> Response:
    return page(request, "Thank you", "<p>Your order is on its way.</p>")


async def wishlist_add(request: Request) -> Response:
    fields = await _fields(request)
    product = _product_field(fields)
    return RedirectResponse(f"/products/{quote(product.handle)}", status_code=303)


async def login(request: Request) -> Response:
    if request.method == "GET":
        form = ('<form method="post" action="/account/login"><label>User <input name="user" '
                'required maxlength="64"></label> <button>Log in</button></form>'
                '<form method="post" action="/account/logout"><button class="secondary">'
                "Log out</button></form>")
        return page(request, "Account", form)
    fields = await _fields(request)
    user = fields.get("user")
    if not isinstance(user, str) or not user.strip() or len(user) > 64 or not user.isprintable():
        raise BadInput("form field 'user' must be 1-64 printable characters")
    response = RedirectResponse("/", status_code=303)
    # How the shop names the shopper to intentgate (which removes the header in transit).
    response.headers[IDENTIFY] = user.strip()
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.headers[IDENTIFY] = "-"
    return response


async def _bad_input(request: Request, exc: Exception) -> Response:
    if request.url.path.endswith(".js"):
        return JSONResponse({"error": str(exc)}, status_code=400)
    return error_page(request, 400, str(exc))


async def _not_found(request: Request, exc: Exception) -> Response:
    return error_page(request, 404, "Nothing here.")


def create_demo_shop() -> Starlette:
    """The demo storefront as an ASGI app."""
    routes = [
        Route("/", home),
        Route("/collections/{handle}", collection),
        Route("/products/{handle}", product_page),
        Route("/products/{handle}/reviews", reviews_page),
        Route("/search", search_page),
        Route("/pages/compare", compare_page),
        Route("/pages/sale", sale_page),
        Route("/cart", cart_page),
        Route("/cart/add", cart_add, methods=["POST"]),
        Route("/cart/add.js", cart_add, methods=["POST"]),
        Route("/cart/change.js", cart_change, methods=["POST"]),
        Route("/cart/remove", cart_remove, methods=["POST"]),
        Route("/checkout", checkout, methods=["GET", "POST"]),
        Route("/checkout/thank-you", thank_you),
        Route("/wishlist/add", wishlist_add, methods=["POST"]),
        Route("/account/login", login, methods=["GET", "POST"]),
        Route("/account/logout", logout, methods=["POST"]),
        Mount("/assets", StaticFiles(directory=ASSETS), name="assets"),
    ]
    return Starlette(routes=routes,
                     exception_handlers={BadInput: _bad_input, 404: _not_found})
