"""Signed ids, pseudonyms, cookie reading and Set-Cookie values (signals/identity.py)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from signals.identity import (
    MAX_COOKIE_HEADER_BYTES,
    TOKEN_LENGTH,
    Identity,
    IdentityCodec,
    IdentityReader,
    read_cookies,
    set_cookie_value,
)
from tests.servers import serve_in_thread

SECRET = b"s" * 32
OTHER_SECRET = b"o" * 32


@pytest.fixture
def make_codec() -> Callable[..., IdentityCodec]:
    def make(secret: bytes = SECRET) -> IdentityCodec:
        return IdentityCodec(secret)

    return make


@pytest.fixture
def codec(make_codec: Callable[..., IdentityCodec]) -> IdentityCodec:
    return make_codec()


@pytest.fixture
def make_reader(codec: IdentityCodec) -> Callable[..., IdentityReader]:
    def make(**names: str) -> IdentityReader:
        return IdentityReader(codec, **names)

    return make


# -- IdentityCodec ----------------------------------------------------------------------------


def test_codec_new_token_verifies_and_is_cookie_safe(codec: IdentityCodec) -> None:
    token = codec.new_token()
    assert len(token) == TOKEN_LENGTH
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert codec.verify(token) == token
    assert codec.verify(token.encode()) == token


def test_codec_new_tokens_are_random(codec: IdentityCodec) -> None:
    tokens = {codec.new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert len({t.split(".")[0] for t in tokens}) == 200


def test_codec_rejects_forged_tag(codec: IdentityCodec) -> None:
    token = codec.new_token()
    last = token[-1]
    forged = token[:-1] + ("A" if last != "A" else "B")
    assert codec.verify(forged) is None


def test_codec_rejects_token_signed_with_another_secret(
    make_codec: Callable[..., IdentityCodec],
) -> None:
    theirs = make_codec(OTHER_SECRET).new_token()
    assert make_codec(SECRET).verify(theirs) is None


def test_codec_rejects_tag_moved_to_another_id(codec: IdentityCodec) -> None:
    a, b = codec.new_token(), codec.new_token()
    spliced = a.split(".")[0] + "." + b.split(".")[1]
    assert codec.verify(spliced) is None


@pytest.mark.parametrize(
    "value",
    [
        b"",
        "",
        b"x" * TOKEN_LENGTH,  # right size, no dot
        "é" * TOKEN_LENGTH,
        b"\xff" * TOKEN_LENGTH,
        b"a" * 22 + b"." + b"!" * 16,
        b"a" * 5000,
        "not-a-token",
    ],
)
def test_codec_verify_returns_none_for_malformed_values(
    codec: IdentityCodec, value: bytes | str
) -> None:
    assert codec.verify(value) is None


@given(st.binary(max_size=80))
def test_codec_verify_never_raises_on_arbitrary_bytes(value: bytes) -> None:
    assert IdentityCodec(SECRET).verify(value) is None


def test_codec_refuses_short_secret() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        IdentityCodec(b"short")


def test_codec_accepts_long_secret() -> None:
    codec = IdentityCodec(b"k" * 200)
    assert codec.verify(codec.new_token()) is not None
    # The compressed key is still the secret: another long secret does not verify.
    assert IdentityCodec(b"j" * 200).verify(codec.new_token()) is None


def test_codec_pseudonym_is_stable_keyed_and_opaque(
    make_codec: Callable[..., IdentityCodec],
) -> None:
    codec = make_codec()
    p = codec.pseudonym("u:alice@example.com")
    assert p == codec.pseudonym("u:alice@example.com")
    assert p != codec.pseudonym("s:alice@example.com")
    assert p != make_codec(OTHER_SECRET).pseudonym("u:alice@example.com")
    assert "alice" not in p and len(p) == 22


def test_codec_pseudonym_differs_from_token_tag(codec: IdentityCodec) -> None:
    token = codec.new_token()
    ident, tag = token.split(".")
    assert codec.pseudonym(ident)[:16] != tag


# -- read_cookies ------------------------------------------------------------------------------


def test_read_cookies_finds_names_across_several_headers() -> None:
    headers = [b"_ga=GA1.2.3; ig_sid=abc", b"theme=dark", b"ig_did=def; other=1"]
    assert read_cookies(headers, (b"ig_sid", b"ig_did", b"ig_pid")) == (b"abc", b"def", None)


def test_read_cookies_needs_a_cookie_boundary_before_the_name() -> None:
    assert read_cookies([b"xig_sid=evil; a=ig_sid=evil2"], (b"ig_sid",)) == (None,)
    assert read_cookies([b"a=1;ig_sid=ok"], (b"ig_sid",)) == (b"ok",)
    assert read_cookies([b"a=1;   ig_sid=ok  ; b=2"], (b"ig_sid",)) == (b"ok",)


def test_read_cookies_duplicate_first_valid_wins(codec: IdentityCodec) -> None:
    good = codec.new_token().encode()
    forged = good[:-1] + (b"A" if good[-1:] != b"A" else b"B")
    headers = [b"ig_sid=" + forged + b"; ig_sid=" + good, b"ig_sid=" + codec.new_token().encode()]
    assert read_cookies(headers, (b"ig_sid",), codec.is_valid) == (good,)
    # Without a validity check the first well-formed value wins.
    assert read_cookies(headers, (b"ig_sid",)) == (forged,)


def test_read_cookies_skips_oversized_header_and_value() -> None:
    big_header = b"ig_sid=a; pad=" + b"x" * MAX_COOKIE_HEADER_BYTES
    assert read_cookies([big_header, b"ig_sid=b"], (b"ig_sid",)) == (b"b",)
    big_value = b"ig_sid=" + b"v" * 300
    assert read_cookies([big_value + b"; ig_sid=small"], (b"ig_sid",)) == (b"small",)


def test_read_cookies_strips_quotes_and_ignores_empty_values() -> None:
    assert read_cookies([b'ig_sid=""; ig_sid="q"'], (b"ig_sid",)) == (b"q",)
    assert read_cookies([b"ig_sid=; ig_did"], (b"ig_sid", b"ig_did")) == (None, None)


@given(st.lists(st.binary(max_size=300), max_size=4))
def test_read_cookies_never_raises_on_garbage(headers: list[bytes]) -> None:
    out = read_cookies(headers, (b"ig_sid", b"ig_did"))
    assert len(out) == 2
    assert all(v is None or (0 < len(v) <= 256 and b";" not in v) for v in out)


# -- set_cookie_value --------------------------------------------------------------------------


def test_set_cookie_value_has_the_required_attributes() -> None:
    value = set_cookie_value("ig_sid", "tok", 1800, secure=False)
    assert value == b"ig_sid=tok; Max-Age=1800; Path=/; HttpOnly; SameSite=Lax"
    assert set_cookie_value("ig_did", "tok", 3.7e7, secure=True).endswith(b"; Secure")


@pytest.mark.parametrize(("name", "value"), [("bad name", "v"), ("ig", "a;b"), ("", "v")])
def test_set_cookie_value_refuses_header_injection(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        set_cookie_value(name, value, 60, secure=False)


# -- IdentityReader ----------------------------------------------------------------------------


def test_reader_reads_valid_session_device_and_profile(
    codec: IdentityCodec, make_reader: Callable[..., IdentityReader]
) -> None:
    sid, did, pid = codec.new_token(), codec.new_token(), codec.new_token()
    header = f"ig_sid={sid}; ig_did={did}; ig_pid={pid}".encode()
    assert make_reader().read([header]) == Identity(sid, did, pid, False, False)


def test_reader_ignores_forged_cookies_and_flags_them_new(
    make_codec: Callable[..., IdentityCodec], make_reader: Callable[..., IdentityReader]
) -> None:
    theirs = make_codec(OTHER_SECRET)
    header = f"ig_sid={theirs.new_token()}; ig_did={theirs.new_token()}".encode()
    ident = make_reader().read([header])
    assert ident == Identity(None, None, None, True, True)


def test_reader_mint_fills_missing_ids_with_valid_tokens(
    codec: IdentityCodec, make_reader: Callable[..., IdentityReader]
) -> None:
    did = codec.new_token()
    ident = make_reader().read([f"ig_did={did}".encode()], mint=True)
    assert ident.new_session and not ident.new_device
    assert ident.device == did
    assert ident.session is not None and codec.verify(ident.session) == ident.session


def test_reader_uses_configured_cookie_names(
    codec: IdentityCodec, make_reader: Callable[..., IdentityReader]
) -> None:
    sid = codec.new_token()
    reader = make_reader(session_cookie="shop_s", device_cookie="shop_d", profile_cookie="shop_p")
    assert reader.read([f"ig_sid={codec.new_token()}; shop_s={sid}".encode()]).session == sid


def test_reader_refuses_clashing_cookie_names(codec: IdentityCodec) -> None:
    with pytest.raises(ValueError, match="distinct"):
        IdentityReader(codec, session_cookie="a", device_cookie="a", profile_cookie="b")


def test_reader_cookie_round_trip_through_a_real_server_and_client(
    codec: IdentityCodec, make_reader: Callable[..., IdentityReader]
) -> None:
    """A Set-Cookie we build is stored by a real client and read back by the reader."""
    reader = make_reader()

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] in ("http", "lifespan")
        if scope["type"] == "lifespan":
            return
        headers = scope["headers"]
        assert isinstance(headers, list)
        ident = reader.read([v for k, v in headers if k == b"cookie"], mint=True)
        out = [(b"content-type", b"text/plain")]
        if ident.new_session:
            out.append((b"set-cookie", set_cookie_value("ig_sid", ident.session or "", 60, False)))
        if ident.new_device:
            out.append((b"set-cookie", set_cookie_value("ig_did", ident.device or "", 60, False)))
        await send({"type": "http.response.start", "status": 200, "headers": out})  # type: ignore[operator]
        body = f"{ident.session} {ident.device} {int(ident.new_session)}".encode()
        await send({"type": "http.response.body", "body": body})  # type: ignore[operator]

    with serve_in_thread(app, lifespan="off") as url, httpx.Client(base_url=url) as client:
        first = client.get("/").text.split()
        second = client.get("/").text.split()
        third = httpx.get(url + "/", headers={"cookie": "ig_sid=forged; ig_did=" + first[1]}).text
    assert first[2] == "1"
    assert second == [first[0], first[1], "0"]
    assert third.split()[1] == first[1] and third.split()[2] == "1"


def test_reader_remembers_only_valid_tokens_and_stays_bounded(codec: IdentityCodec) -> None:
    reader = IdentityReader(codec, known_tokens=4)
    for _ in range(10):
        token = codec.new_token()
        assert reader.read([f"ig_sid={token}".encode()]).session == token
        assert reader.read([f"ig_sid={token}".encode()]).session == token  # from memory
    assert 0 < len(reader._known) <= 4
    forged = IdentityCodec(OTHER_SECRET).new_token()
    assert reader.read([f"ig_sid={forged}".encode()]).session is None
    assert forged.encode() not in reader._known
