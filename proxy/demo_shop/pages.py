"""HTML for the demo storefront: the layout, the "What intentgate told this shop" footer and one
renderer per page. Pure string building over catalog data; no HTTP here.

Everything that does not depend on the request (navigation, product cards, product and review
pages, the home and sale grids) is rendered once when ``ShopPages`` is built, so a request only
joins a few prebuilt strings. Every value that did not come from the catalog is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from html import escape
from urllib.parse import quote, urlencode

from proxy.demo_shop.catalog import BY_COLLECTION, COLLECTIONS, ON_SALE, PRODUCTS, Product
from proxy.demo_shop.cookies import MAX_QTY

SHOP_NAME = "Demo Shop"
BEACON = '<script src="/_intentgate/beacon.js" defer></script>'
NO_INTENT = "no X-Intent-* headers: intentgate did not classify this request"
# Filled in by shop.js from the proxy's X-Intent-Skipped response header (exposed headers only).
SKIPPED_SLOT = '<p id="intent-skipped" aria-live="polite"></p>'
SORTS: Mapping[str, str] = {
    "price-ascending": "Price, low to high",
    "price-descending": "Price, high to low",
    "title-ascending": "Alphabetically, A-Z",
}
ERROR_TITLES: Mapping[int, str] = {
    400: "Bad request", 404: "Page not found", 405: "Method not allowed",
    413: "Request too large", 415: "Unsupported form encoding",
}


def money(value: Decimal) -> str:
    return f"€{value:,.2f}"


def stars(rating: Decimal | int) -> str:
    full = int(Decimal(rating).to_integral_value())
    return (f'<span class="stars" aria-label="{rating} out of 5">'
            f"{'★' * full}{'☆' * (5 - full)}</span>")


def intent_footer(headers: Sequence[tuple[str, str]]) -> str:
    """The visible footer listing every ``X-Intent-*`` request header as received."""
    if headers:
        items = "".join(f"<li><code>{escape(name)}</code>: <strong>{escape(value)}</strong></li>"
                        for name, value in headers)
        inner = f"<ul>{items}</ul>"
    else:
        inner = f"<p>{NO_INTENT}</p>{SKIPPED_SLOT}"
    return (f'<footer id="intent"><h2>What intentgate told this shop</h2>{inner}'
            "<p class=\"fine\">These are the request headers this page's request carried.</p>"
            "</footer>")


def _price(p: Product) -> str:
    old = f' <s>{money(p.compare_at)}</s>' if p.compare_at is not None else ""
    return f'<span class="price" data-price="{p.price}">{money(p.price)}</span>{old}'


def _image(p: Product, size: int) -> str:
    return (f'<img src="/assets/{p.collection}.svg" alt="" width="{size}" '
            f'height="{size * 3 // 4}" loading="lazy">')


def _card(p: Product) -> str:
    badge = '<span class="badge">Sale</span>' if p.on_sale else ""
    return (f'<li class="card" data-handle="{p.handle}">{badge}'
            f'<a href="/products/{p.handle}">{_image(p, 160)}<span class="title">'
            f"{escape(p.title)}</span></a>{stars(p.rating)}<span>{_price(p)}</span></li>")


class ShopPages:
    """Renders every page of the shop; build once (it prerenders the static parts)."""

    __slots__ = ("_cards", "_home", "_nav", "_product", "_reviews", "_sale")

    def __init__(self) -> None:
        self._nav = "".join(f'<a href="/collections/{h}">{escape(t)}</a>'
                            for h, t in COLLECTIONS.items()) + '<a href="/pages/sale">Sale</a>'
        self._cards = {h: _card(p) for h, p in PRODUCTS.items()}
        self._home = self._render_home()
        self._sale = self.grid(ON_SALE)
        self._product = {h: self._render_product(p) for h, p in PRODUCTS.items()}
        self._reviews = {h: self._render_reviews(p) for h, p in PRODUCTS.items()}

    # -- layout ---------------------------------------------------------------------------

    def layout(self, title: str, body: str, *, intent: Sequence[tuple[str, str]],
               cart_count: int = 0, user: str | None = None, query: str = "") -> str:
        """A whole HTML document; ``title``, ``user`` and ``query`` are escaped here, ``body``
        must already be safe HTML."""
        account = (f'<a class="account" href="/account">{escape(user)}</a>' if user
                   else '<a class="account" href="/account/login">Sign in</a>')
        return (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)} · {SHOP_NAME}</title>"
            '<link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/shop.css">'
            f'{BEACON}<script src="/assets/shop.js" defer></script></head><body>'
            f'<header class="top"><a class="logo" href="/">{SHOP_NAME}</a>'
            f'<nav aria-label="Collections">{self._nav}</nav>'
            '<form class="search" action="/search" method="get" role="search">'
            f'<input name="q" value="{escape(query)}" placeholder="Search products" '
            'aria-label="Search products" maxlength="200"></form>'
            f'{account}<a class="cart" href="/cart">Cart ({cart_count})</a></header>'
            f"<main><h1>{escape(title)}</h1>{body}</main>"
            f"{intent_footer(intent)}</body></html>"
        )

    def grid(self, products: Iterable[Product]) -> str:
        cards = "".join(self._cards[p.handle] for p in products)
        return f'<ul class="grid">{cards}</ul>' if cards else '<p class="empty">No products.</p>'

    # -- catalog pages ----------------------------------------------------------------------

    def _render_home(self) -> str:
        sections = "".join(
            f'<section><h2><a href="/collections/{h}">{escape(t)}</a></h2>'
            f"{self.grid(BY_COLLECTION[h][:4])}</section>" for h, t in COLLECTIONS.items()
        )
        hero = ('<p class="hero">Audio, laptops, phones, cameras, home and wearables. '
                f'<a href="/pages/sale">{len(ON_SALE)} products on sale</a> · '
                '<a href="/collections/all">all products</a></p>')
        return hero + sections

    def home(self) -> str:
        return self._home

    def sale(self) -> str:
        return "<p>Reduced for a limited time.</p>" + self._sale

    def collection(self, handle: str, products: Sequence[Product], *, sort: str | None,
                   low: Decimal | None, high: Decimal | None) -> str:
        """A collection page body; ``handle`` must be a known collection (or all/sale)."""
        price: dict[str, str] = {}
        if low is not None:
            price["filter.v.price.gte"] = str(low)
        if high is not None:
            price["filter.v.price.lte"] = str(high)
        links = [f'<a href="/collections/{handle}?{urlencode(price)}"'
                 f'{" aria-current=true" if sort is None else ""}>Featured</a>']
        for key, label in SORTS.items():
            current = " aria-current=true" if key == sort else ""
            href = f"/collections/{handle}?{urlencode({'sort_by': key, **price})}"
            links.append(f'<a href="{escape(href)}"{current}>{label}</a>')
        keep_sort = (f'<input type="hidden" name="sort_by" value="{sort}">' if sort else "")
        lo = str(low) if low is not None else ""
        hi = str(high) if high is not None else ""
        toolbar = (
            f'<div class="toolbar"><p class="sort">Sort: {" · ".join(links)}</p>'
            f'<form class="filter" method="get" action="/collections/{handle}">{keep_sort}'
            f'<label>From € <input name="filter.v.price.gte" value="{lo}" inputmode="decimal" '
            f'size="6"></label> <label>to € <input name="filter.v.price.lte" value="{hi}" '
            'inputmode="decimal" size="6"></label> <button>Filter</button></form></div>'
        )
        count = f'<p class="count">{len(products)} product{"s" if len(products) != 1 else ""}</p>'
        return toolbar + count + self.grid(products)

    def _render_product(self, p: Product) -> str:
        siblings = [o.handle for o in BY_COLLECTION[p.collection] if o.handle != p.handle][:2]
        compare = ",".join([p.handle, *siblings])
        saving = (f'<p class="saving">You save {money(p.compare_at - p.price)}</p>'
                  if p.compare_at is not None else "")
        # ``id`` rides in the action's query string as well as the body: intentgate reads
        # the URL and never the body, so that is how the proxy learns which product it was.
        return (
            f'<div class="product">{_image(p, 320)}<div class="buy">'
            f'<p>{_price(p)} {stars(p.rating)} <a href="#reviews">{len(p.reviews)} reviews</a>'
            f"</p>{saving}<p>{escape(p.description)}</p>"
            f'<form method="post" action="/cart/add?id={p.handle}" data-ajax-cart>'
            f'<input type="hidden" name="id" value="{p.handle}">'
            '<label>Quantity <input name="quantity" type="number" value="1" min="1" '
            f'max="{MAX_QTY}"></label> <button>Add to cart</button>'
            '<output class="cart-status" aria-live="polite"></output></form>'
            f'<form method="post" action="/wishlist/add?id={p.handle}">'
            f'<input type="hidden" name="id" value="{p.handle}">'
            '<button class="secondary">Save to wishlist</button></form>'
            f'<p><a href="/pages/compare?products={compare}">Compare with similar</a> · '
            f'<a href="/collections/{p.collection}">More {escape(COLLECTIONS[p.collection])}</a>'
            "</p></div></div>"
            f'<section id="reviews"><h2>Reviews ({p.rating} / 5)</h2>'
            f"{self._review_list(p, 3)}"
            f'<p><a href="/products/{p.handle}/reviews">All {len(p.reviews)} reviews</a></p>'
            "</section>"
        )

    @staticmethod
    def _review_list(p: Product, limit: int | None = None) -> str:
        items = "".join(f'<li><strong>{escape(r.author)}</strong> {stars(r.stars)} '
                        f"<span>{escape(r.text)}</span></li>" for r in p.reviews[:limit])
        return f'<ul class="reviews">{items}</ul>'

    def product(self, handle: str) -> str:
        return self._product[handle]

    def _render_reviews(self, p: Product) -> str:
        counts = [sum(1 for r in p.reviews if r.stars == s) for s in range(5, 0, -1)]
        bars = "".join(f"<li>{s} ★: {n}</li>" for s, n in zip(range(5, 0, -1), counts,
                                                               strict=True))
        return (f'<p>Average {p.rating} / 5 {stars(p.rating)} from {len(p.reviews)} reviews</p>'
                f'<ul class="histogram">{bars}</ul>{self._review_list(p)}'
                f'<p><a href="/products/{p.handle}">Back to {escape(p.title)}</a></p>')

    def reviews(self, handle: str) -> str:
        return self._reviews[handle]

    def search(self, query: str, found: Sequence[Product]) -> str:
        if not query:
            return "<p>Type something to search for, such as <a href=\"/search?q=headphones\">"\
                   "headphones</a> or <a href=\"/search?q=camera\">camera</a>.</p>"
        if not found:
            return (f"<p>No products match <q>{escape(query)}</q>. Try fewer words, or browse "
                    'the <a href="/collections/all">whole catalog</a>.</p>')
        n = len(found)
        return (f'<p class="count">{n} result{"s" if n != 1 else ""} for <q>{escape(query)}</q>'
                f"</p>{self.grid(found)}")

    def compare(self, found: Sequence[Product], missing: Sequence[str]) -> str:
        body = ""
        if found:
            head = "".join(f'<th scope="col"><a href="/products/{p.handle}">{escape(p.title)}'
                           "</a></th>" for p in found)
            rows = [
                ("Price", [_price(p) for p in found]),
                ("Rating", [f"{stars(p.rating)} {p.rating}" for p in found]),
                ("Reviews", [str(len(p.reviews)) for p in found]),
                ("Collection", [escape(COLLECTIONS[p.collection]) for p in found]),
                ("On sale", ["yes" if p.on_sale else "no" for p in found]),
                ("About", [escape(p.description) for p in found]),
            ]
            cells = "".join(f'<tr><th scope="row">{label}</th>'
                            + "".join(f"<td>{v}</td>" for v in values) + "</tr>"
                            for label, values in rows)
            body = (f'<div class="scroll"><table class="compare"><thead><tr><td></td>{head}'
                    f"</tr></thead><tbody>{cells}</tbody></table></div>")
        if missing:
            body += ('<p class="missing">Not found: '
                     + ", ".join(f"<code>{escape(m)}</code>" for m in missing) + "</p>")
        return body

    # -- cart, checkout, account ------------------------------------------------------------

    @staticmethod
    def _cart_table(cart: Mapping[str, int], *, editable: bool) -> str:
        total = sum((PRODUCTS[h].price * q for h, q in cart.items()), Decimal(0))
        rows = []
        for handle, qty in cart.items():
            p = PRODUCTS[handle]
            remove = (f'<td><form method="post" action="/cart/remove?id={handle}">'
                      f'<input type="hidden" name="id" value="{handle}">'
                      '<button class="link">Remove</button></form></td>' if editable else "")
            rows.append(f'<tr data-handle="{handle}"><td><a href="/products/{handle}">'
                        f"{escape(p.title)}</a></td><td>{money(p.price)}</td>"
                        f'<td class="qty">{qty}</td><td>{money(p.price * qty)}</td>{remove}</tr>')
        extra = "<td></td>" if editable else ""
        return ('<table class="cart"><thead><tr><th>Product</th><th>Price</th><th>Quantity</th>'
                f'<th>Total</th>{extra}</tr></thead><tbody>{"".join(rows)}</tbody><tfoot><tr>'
                f'<th colspan="3">Total</th><th class="total">{money(total)}</th>{extra}</tr>'
                "</tfoot></table>")

    def cart(self, cart: Mapping[str, int]) -> str:
        if not cart:
            return '<p>Your cart is empty. <a href="/">Keep shopping</a>.</p>'
        return (self._cart_table(cart, editable=True)
                + '<p><a class="button" href="/checkout">Check out</a></p>')

    def checkout(self, cart: Mapping[str, int]) -> str:
        if not cart:
            return '<p>Your cart is empty. <a href="/">Keep shopping</a>.</p>'
        return (self._cart_table(cart, editable=False)
                + '<form class="checkout" method="post" action="/checkout">'
                '<label>Email <input name="email" type="email" required maxlength="254">'
                '</label><label>Name <input name="name" maxlength="100"></label>'
                "<button>Place order</button></form>")

    @staticmethod
    def thank_you(order: str | None) -> str:
        ref = f" Your order number is <strong>{order}</strong>." if order else ""
        return (f"<p>Thank you! Your order is on its way.{ref}</p>"
                '<p><a href="/">Back to the shop</a></p>')

    def account(self, user: str | None, wishlist: Sequence[str]) -> str:
        if user:
            who = (f"<p>Signed in as <strong>{escape(user)}</strong>.</p>"
                   '<form method="post" action="/account/logout">'
                   '<button class="secondary">Sign out</button></form>')
        else:
            who = ('<form method="post" action="/account/login"><label>User name or email '
                   '<input name="user" required maxlength="64"></label> '
                   "<button>Sign in</button></form>")
        saved = (self.grid(PRODUCTS[h] for h in wishlist) if wishlist
                 else "<p>Nothing saved yet.</p>")
        return f"{who}<h2>Wishlist</h2>{saved}"

    @staticmethod
    def error(status: int, reason: str) -> tuple[str, str]:
        """(title, body) of an error page; ``reason`` is escaped."""
        title = ERROR_TITLES.get(status, "Error")
        return title, (f'<p class="reason">{escape(reason)}</p>'
                       '<p><a href="/">Home</a> · <a href="/search">Search</a></p>')


def product_url(handle: str) -> str:
    return f"/products/{quote(handle)}"
