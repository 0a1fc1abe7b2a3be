"""The bot gate against real user agents (signals/bots.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from signals.bots import AUTOMATION, DECLARED_CRAWLER, MISSING_BROWSER_HEADERS, BotGate

MakeGate = Callable[..., BotGate]


@pytest.fixture
def make_gate() -> MakeGate:
    def make(**kw: object) -> BotGate:
        return BotGate(**kw)  # type: ignore[arg-type]

    return make


CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/120.0.6099.216 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Twitterbot/1.0",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "ShopMonitorBot/3.1",  # unknown crawler, generic "...bot/<version>"
    "Mozilla/5.0 (compatible; SomeCrawler; +https://example.com/about)",
]

AUTOMATIONS = [
    "curl/8.4.0",
    "Wget/1.21.4",
    "python-requests/2.31.0",
    "Python-urllib/3.11",
    "Python/3.11 aiohttp/3.9.1",
    "python-httpx/0.27.0",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "Java/17.0.2",
    "Apache-HttpClient/4.5.14 (Java/17.0.9)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.6099.71 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
    "PhantomJS/2.1.1 Safari/538.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Selenium/4.15 Chrome/119.0",
    "Scrapy/2.11.0 (+https://scrapy.org)",
    "PostmanRuntime/7.36.0",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "axios/1.6.2",
    "libwww-perl/6.72",
]

BROWSERS = [
    # Chrome on Windows, Safari on iPhone, Firefox, Edge, Samsung Internet, a CUBOT phone
    # (contains "bot" but is a human), the Facebook in-app browser.
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.6045.163 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/443.0.0.31.107;FBBV/540107034;FBDV/iPhone15,2]",
]


@pytest.mark.parametrize("ua", CRAWLERS)
def test_bots_declared_crawlers_are_named(make_gate: MakeGate, ua: str) -> None:
    assert make_gate().verdict(ua.encode(), True, True) == DECLARED_CRAWLER


@pytest.mark.parametrize("ua", AUTOMATIONS)
def test_bots_http_tools_and_headless_browsers_are_automation(make_gate: MakeGate, ua: str) -> None:
    assert make_gate().verdict(ua.encode(), True, True) == AUTOMATION


@pytest.mark.parametrize("ua", BROWSERS)
def test_bots_real_browsers_pass(make_gate: MakeGate, ua: str) -> None:
    assert make_gate().verdict(ua.encode(), True, True) is None


@pytest.mark.parametrize(("accept", "language"), [(False, True), (True, False), (False, False)])
def test_bots_browser_ua_without_browser_headers_is_flagged(
    make_gate: MakeGate, accept: bool, language: bool
) -> None:
    ua = BROWSERS[0].encode()
    assert make_gate().verdict(ua, accept, language) == MISSING_BROWSER_HEADERS


def test_bots_missing_or_empty_user_agent_is_flagged(make_gate: MakeGate) -> None:
    gate = make_gate()
    assert gate.verdict(None, True, True) == MISSING_BROWSER_HEADERS
    assert gate.verdict(b"", True, True) == MISSING_BROWSER_HEADERS


def test_bots_header_check_can_be_turned_off(make_gate: MakeGate) -> None:
    gate = make_gate(require_browser_headers=False)
    assert gate.verdict(BROWSERS[0].encode(), False, False) is None
    assert gate.verdict(b"curl/8.4.0", False, False) == AUTOMATION


def test_bots_cached_verdict_does_not_hide_missing_headers(make_gate: MakeGate) -> None:
    gate = make_gate()
    ua = BROWSERS[1].encode()
    assert gate.verdict(ua, True, True) is None
    assert gate.verdict(ua, True, False) == MISSING_BROWSER_HEADERS
    assert gate.verdict(ua, True, True) is None


def test_bots_cache_stays_bounded_and_answers_stay_right(make_gate: MakeGate) -> None:
    gate = make_gate(cache_size=8)
    for i in range(50):
        assert gate.verdict(f"Mozilla/5.0 Firefox/{i}.0".encode(), True, True) is None
        assert gate.verdict(f"curl/{i}.0".encode(), True, True) == AUTOMATION
    assert len(gate._cache) <= 8


def test_bots_extra_tokens_extend_the_lists(make_gate: MakeGate) -> None:
    gate = make_gate(extra_crawler_tokens=["PriceSpy"], extra_automation_tokens=["MyScript/"])
    assert gate.verdict(b"Mozilla/5.0 (compatible; PriceSpy 2)", True, True) == DECLARED_CRAWLER
    assert gate.verdict(b"MyScript/1.0", True, True) == AUTOMATION
    assert make_gate().verdict(b"Mozilla/5.0 (compatible; PriceSpy 2)", True, True) is None


def test_bots_odd_bytes_in_user_agent_do_not_raise(make_gate: MakeGate) -> None:
    assert make_gate().verdict(b"\xff\xfe\x00 Mozilla/5.0" + b"x" * 5000, True, True) is None


@pytest.mark.parametrize(("rate", "fast"), [(0.0, False), (119.9, False), (120.0, False),
                                            (120.5, True), (1e6, True)])
def test_bots_too_fast_uses_default_ceiling(make_gate: MakeGate, rate: float, fast: bool) -> None:
    assert make_gate().too_fast(rate) is fast


def test_bots_too_fast_ceiling_is_configurable(make_gate: MakeGate) -> None:
    gate = make_gate(max_rate=30)
    assert gate.too_fast(31) and not gate.too_fast(30)


@pytest.mark.parametrize("rate", [0, -1.0, float("nan")])
def test_bots_refuse_non_positive_ceiling(rate: float) -> None:
    with pytest.raises(ValueError, match="max_rate"):
        BotGate(max_rate=rate)


def test_bots_refuse_empty_extra_token() -> None:
    with pytest.raises(ValueError, match="empty"):
        BotGate(extra_crawler_tokens=[""])
