"""Signed, random shopper ids in cookies, and the keyed pseudonyms used in headers and records.

Pure: the secret arrives as bytes (proxy/ loads or generates it), nothing here reads env or files.
A cookie whose tag fails is ignored, never trusted; malformed or oversized input never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from typing import NamedTuple

# A token is 16 random bytes and a 12-byte keyed-blake2b tag, each url-safe base64 without
# padding: 22 + 1 + 16 = 39 ASCII characters. 96 tag bits make forging by guessing hopeless.
_ID_BYTES = 16
_TAG_BYTES = 12
_ID_CHARS = 22
_TAG_CHARS = 16
TOKEN_LENGTH = _ID_CHARS + 1 + _TAG_CHARS
MIN_SECRET_BYTES = 16

# Limits of what read_cookies looks at (issue 3: oversized input is skipped, never an error).
MAX_COOKIE_HEADER_BYTES = 4096
MAX_COOKIE_VALUE_BYTES = 256

_B64URL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_COOKIE_NAME_FORBIDDEN = frozenset(' \t\r\n=;,"()<>@:\\/[]?{}')
_COOKIE_VALUE_FORBIDDEN = frozenset(' \t\r\n;,"\\')


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class IdentityCodec:
    """Mints and verifies signed ids, and derives pseudonyms, with one secret.

    Keyed BLAKE2b (RFC 7693 keyed mode, a MAC by construction) with distinct personalisation
    strings, so a token tag can never be replayed as a pseudonym or the other way round.
    """

    __slots__ = ("_key",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"identity secret must be at least {MIN_SECRET_BYTES} bytes")
        # blake2b takes keys up to 64 bytes; longer secrets are compressed first.
        self._key = secret if len(secret) <= 64 else hashlib.blake2b(secret).digest()

    def _tag(self, ident: bytes) -> bytes:
        return hashlib.blake2b(
            ident, key=self._key, digest_size=_TAG_BYTES, person=b"intentgate-token"
        ).digest()

    def new_token(self) -> str:
        """A fresh random id with its tag: ``<22 chars>.<16 chars>``, cookie-safe."""
        ident = _b64(secrets.token_bytes(_ID_BYTES)).encode("ascii")
        return ident.decode("ascii") + "." + _b64(self._tag(ident))

    def token_for(self, ident: str) -> str:
        """The signed token of a 22-character id minted elsewhere (a profile pseudonym, so a
        profile cookie carries its own proof): ``<ident>.<tag>``."""
        raw = ident.encode("ascii")
        if len(raw) != _ID_CHARS or not _B64URL.issuperset(raw):
            raise ValueError("id must be 22 url-safe base64 characters")
        return ident + "." + _b64(self._tag(raw))

    def verify(self, value: bytes | str) -> str | None:
        """The token when its tag is ours, else ``None`` (forged, malformed, wrong size)."""
        if isinstance(value, str):
            if not value.isascii():
                return None
            value = value.encode("ascii")
        if len(value) != TOKEN_LENGTH or value[_ID_CHARS] != 0x2E:  # "."
            return None
        ident = value[:_ID_CHARS]
        tag = value[_ID_CHARS + 1 :]
        if not _B64URL.issuperset(ident) or not _B64URL.issuperset(tag):
            return None
        # 12 tag bytes encode to exactly 16 base64 characters: no padding to strip.
        expected = base64.urlsafe_b64encode(self._tag(ident))
        if not hmac.compare_digest(expected, tag):
            return None
        return value.decode("ascii")

    def is_valid(self, value: bytes) -> bool:
        return self.verify(value) is not None

    def pseudonym(self, text: str) -> str:
        """A stable keyed hash of ``text`` (22 url-safe chars): a user id or token never leaves raw.

        Callers prefix a namespace (``"u:" + user``, ``"s:" + session``) so equal strings from
        different namespaces get different pseudonyms.
        """
        digest = hashlib.blake2b(
            text.encode("utf-8", "surrogatepass"),
            key=self._key,
            digest_size=16,
            person=b"intentgate-pseud",
        ).digest()
        return _b64(digest)


def read_cookies(
    cookie_header_values: Iterable[bytes],
    names: tuple[bytes, ...],
    valid: Callable[[bytes], bool] | None = None,
    *,
    max_header_bytes: int = MAX_COOKIE_HEADER_BYTES,
    max_value_bytes: int = MAX_COOKIE_VALUE_BYTES,
) -> tuple[bytes | None, ...]:
    """The value of each cookie in ``names`` found in one or more ``Cookie`` header values.

    A name sent several times (one header or several, as HTTP/2 splits them) yields the first
    value that is non-empty, within ``max_value_bytes`` and accepted by ``valid`` (when given).
    Headers longer than ``max_header_bytes`` are skipped. Never raises on malformed input.
    """
    found: list[bytes | None] = [None] * len(names)
    missing = len(names)
    for header in cookie_header_values:
        if len(header) > max_header_bytes:
            continue
        for i, name in enumerate(names):
            if found[i] is not None:
                continue
            value = _find_cookie(header, name, valid, max_value_bytes)
            if value is not None:
                found[i] = value
                missing -= 1
        if not missing:
            break
    return tuple(found)


def _find_cookie(
    header: bytes, name: bytes, valid: Callable[[bytes], bool] | None, max_value: int
) -> bytes | None:
    # find() over the raw header instead of splitting every cookie: shops carry dozens of
    # analytics cookies and we want two or three of them.
    needle = name + b"="
    pos = header.find(needle)
    while pos != -1:
        # The name must start a cookie-pair: at the start, or after ';' (and optional spaces).
        j = pos - 1
        while j >= 0 and header[j] in (0x20, 0x09):
            j -= 1
        if j < 0 or header[j] == 0x3B:
            start = pos + len(needle)
            end = header.find(b";", start)
            value = (header[start:] if end == -1 else header[start:end]).strip()
            if len(value) >= 2 and value[0] == 0x22 and value[-1] == 0x22:  # RFC 6265 quotes
                value = value[1:-1]
            if value and len(value) <= max_value and (valid is None or valid(value)):
                return value
        pos = header.find(needle, pos + 1)
    return None


def set_cookie_value(name: str, value: str, max_age: float, secure: bool) -> bytes:
    """A ``Set-Cookie`` header value: ``HttpOnly; SameSite=Lax; Path=/`` and ``Secure`` if asked."""
    if not name or not name.isascii() or _COOKIE_NAME_FORBIDDEN.intersection(name):
        raise ValueError(f"invalid cookie name {name!r}")
    if not value.isascii() or _COOKIE_VALUE_FORBIDDEN.intersection(value):
        raise ValueError(f"invalid cookie value for {name!r}")
    out = f"{name}={value}; Max-Age={int(max_age)}; Path=/; HttpOnly; SameSite=Lax"
    if secure:
        out += "; Secure"
    return out.encode("ascii")


class Identity(NamedTuple):
    """Who sent a request, as far as our cookies tell.

    ``session``/``device``/``profile`` are verified tokens or ``None``. ``new_session`` and
    ``new_device`` say the id was not in a valid cookie: the caller sets that cookie on the
    response (with ``read(..., mint=True)`` the reader has already minted the id).
    """

    session: str | None
    device: str | None
    profile: str | None
    new_session: bool
    new_device: bool


_SEEN_MAX_BYTES = 4 * 1024 * 1024


class IdentityReader:
    """Reads the session, device and profile cookies of a request; configured once."""

    __slots__ = ("codec", "names", "_max_header", "_max_value", "_known", "_known_max",
                 "_seen", "_seen_bytes")

    def __init__(
        self,
        codec: IdentityCodec,
        *,
        session_cookie: str | bytes = "ig_sid",
        device_cookie: str | bytes = "ig_did",
        profile_cookie: str | bytes = "ig_pid",
        max_header_bytes: int = MAX_COOKIE_HEADER_BYTES,
        max_value_bytes: int = MAX_COOKIE_VALUE_BYTES,
        known_tokens: int = 16384,
    ) -> None:
        names = tuple(
            n.encode("ascii") if isinstance(n, str) else n
            for n in (session_cookie, device_cookie, profile_cookie)
        )
        for n in names:
            if not n or _COOKIE_NAME_FORBIDDEN.intersection(n.decode("latin-1")):
                raise ValueError(f"invalid cookie name {n!r}")
        if len(set(names)) != 3:
            raise ValueError("session, device and profile cookies need distinct names")
        self.codec = codec
        self.names: tuple[bytes, bytes, bytes] = (names[0], names[1], names[2])
        self._max_header = max_header_bytes
        self._max_value = max_value_bytes
        # Tokens that verified before: a returning shopper's cookies cost a set lookup instead
        # of two keyed hashes. Only valid tokens enter (forgeries are not remembered); cleared
        # when full, so the set stays bounded (about 1.5 MB at the default size).
        self._known: set[bytes] = set()
        self._known_max = known_tokens
        # Whole Cookie header value -> what it says: a returning shopper's browser sends the
        # same header request after request, so reading it costs one dict lookup. The
        # answer depends on nothing but the bytes (and the secret). Bounded by the bytes of
        # the headers held (cleared when over), so long analytics-laden headers cannot grow it.
        self._seen: dict[bytes, tuple[str | None, str | None, str | None]] = {}
        self._seen_bytes = 0

    def _valid(self, value: bytes) -> bool:
        if value in self._known:
            return True
        if self.codec.verify(value) is None:
            return False
        if len(self._known) >= self._known_max:
            self._known.clear()
        self._known.add(value)
        return True

    def read(self, cookie_values: Iterable[bytes], *, mint: bool = False) -> Identity:
        """The identity in the request's ``Cookie`` header values (raw bytes, any number)."""
        one = (cookie_values[0] if isinstance(cookie_values, list) and len(cookie_values) == 1
               else None)
        found = self._seen.get(one) if one is not None else None
        if found is None:
            session, device, profile = read_cookies(
                cookie_values,
                self.names,
                self._valid,
                max_header_bytes=self._max_header,
                max_value_bytes=self._max_value,
            )
            found = (session.decode("ascii") if session is not None else None,
                     device.decode("ascii") if device is not None else None,
                     profile.decode("ascii") if profile is not None else None)
            if one is not None:
                if self._seen_bytes > _SEEN_MAX_BYTES:
                    self._seen.clear()
                    self._seen_bytes = 0
                self._seen[one] = found
                self._seen_bytes += len(one) + 200
        sid, did, pid = found
        new_session = sid is None
        new_device = did is None
        if mint:
            if sid is None:
                sid = self.codec.new_token()
            if did is None:
                did = self.codec.new_token()
        return Identity(sid, did, pid, new_session, new_device)
