"""The shopper's state, kept in cookies so the demo shop holds no server-side state: the cart
(``handle:qty|handle:qty``), the wishlist, the signed-in name and the last order reference.

Reading never fails: a cookie that is malformed, oversized or names unknown products is cleaned
up or ignored, because a cookie is client input.
"""

from __future__ import annotations

import re
from collections.abc import Container, Mapping

CART = "cart"
WISHLIST = "wishlist"
USER = "shop_user"
ORDER = "last_order"

MAX_QTY = 99  # per line
MAX_LINES = 50
MAX_WISHLIST = 24
MAX_COOKIE = 2048  # longer values are ignored outright
MAX_USER = 64

_USER = re.compile(r"[\x21-\x7e][\x20-\x7e]*")  # printable ASCII, no leading space
_ORDER = re.compile(r"[0-9A-F]{8}")
_QTY = re.compile(r"[0-9]{1,2}")  # ASCII digits only: str.isdigit() accepts '²', int() does not


def parse_cart(raw: str | None, known: Container[str]) -> dict[str, int]:
    """``handle:qty|...`` → ``{handle: qty}`` in cookie order; bad parts are dropped and
    repeated handles add up, capped at ``MAX_QTY``."""
    cart: dict[str, int] = {}
    if not raw or len(raw) > MAX_COOKIE:
        return cart
    for part in raw.split("|"):
        handle, _, qty = part.partition(":")
        if handle in known and _QTY.fullmatch(qty) and int(qty) > 0:
            if handle not in cart and len(cart) >= MAX_LINES:
                continue
            cart[handle] = min(cart.get(handle, 0) + int(qty), MAX_QTY)
    return cart


def format_cart(cart: Mapping[str, int]) -> str:
    return "|".join(f"{handle}:{qty}" for handle, qty in cart.items() if qty > 0)


def parse_wishlist(raw: str | None, known: Container[str]) -> list[str]:
    """``handle|handle`` → known, distinct handles, oldest first, at most ``MAX_WISHLIST``."""
    if not raw or len(raw) > MAX_COOKIE:
        return []
    seen: list[str] = []
    for handle in raw.split("|"):
        if handle in known and handle not in seen:
            seen.append(handle)
    return seen[-MAX_WISHLIST:]


def format_wishlist(handles: list[str]) -> str:
    return "|".join(handles[-MAX_WISHLIST:])


def valid_user(name: str) -> bool:
    """A name the shop may send in a response header: 1-64 printable ASCII characters, not
    ``-`` (which means "signed out" to intentgate)."""
    return len(name) <= MAX_USER and name != "-" and _USER.fullmatch(name) is not None


def parse_user(raw: str | None) -> str | None:
    return raw if raw and valid_user(raw) else None


def parse_order(raw: str | None) -> str | None:
    return raw if raw and _ORDER.fullmatch(raw) else None
