"""One real browser (Debian's headless Chromium, driven by Playwright) logs in through the dev
provider's login form and out again. The provider runs on another site (localhost) than the
gateway (127.0.0.1), so the browser's SameSite rules apply to the redirects as in production: the
Lax login-transaction cookie must come back on the provider's redirect to /ui/auth/callback,
while the session cookie stays Strict, HttpOnly and out of the page's reach."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, Request, sync_playwright

from bodhi_devstack.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
# Flags that work as root on this network (ENVIRONMENT.md, "Browser").
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SESSION_COOKIE = "bodhiapp_session_id"
LOGIN_COOKIE = "bodhiapp_login"
USERNAME = "ada@example.test"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason=f"{CHROMIUM} is missing (Debian's chromium; tests-e2e/install-browser.sh installs it)",
)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[BrowserContext]:
    """A fresh headless Chromium profile."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "profile", executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            context.close()


def record(context: BrowserContext) -> list[str]:
    """Every finished request as 'METHOD url (Sec-Fetch-Site) -> status', with the names of the
    cookies sent and the cookies set (values redacted): the trail a failing assertion shows, so a
    SameSite problem reads as what the browser did."""
    trail: list[str] = []

    def finished(request: Request) -> None:
        response = request.response()
        status = response.status if response is not None else "-"
        site = request.header_value("sec-fetch-site")
        line = f"{request.method} {request.url.split('?')[0]} ({site}) -> {status}"
        sent = request.header_value("cookie")
        line += f"\n    sent: {_names(sent.split('; ')) if sent else '(none)'}"
        if response is not None:
            set_cookies = [
                h["value"] for h in response.headers_array() if h["name"] == "set-cookie"
            ]
            line += "".join(f"\n    set:  {_redact(c)}" for c in set_cookies)
        trail.append(line)

    context.on("requestfinished", finished)
    return trail


def explain(page: Page, trail: list[str]) -> str:
    """What /ui says and what the browser did (for a failing assertion)."""
    page.wait_for_load_state("networkidle")  # the last requests' events have arrived
    return f"/ui says {page.text_content('#status')!r}; the browser did:\n" + "\n".join(trail)


def _names(pairs: list[str]) -> str:
    return ", ".join(pair.split("=", 1)[0] for pair in pairs)


def _redact(set_cookie: str) -> str:
    name, _, rest = set_cookie.partition("=")
    return f"{name}=…;{rest.partition(';')[2]}"


def test_a_browser_logs_in_across_sites_and_out(
    cross_site_stack: Stack, chromium: BrowserContext
) -> None:
    gateway, provider = cross_site_stack.gateway_url, cross_site_stack.oidc_issuer
    assert httpx.post(f"{gateway}/bodhi/v1/setup", json={"name": "Browser test server"}).is_success
    trail = record(chromium)
    page = chromium.new_page()
    page.goto(f"{gateway}/ui")
    assert page.text_content("#app-status") == "resource-admin"

    page.click("#login")
    page.wait_for_url(f"{provider}/interaction/**")
    page.fill("input[name=username]", USERNAME)
    page.click("button[type=submit]")
    page.wait_for_url(f"{gateway}/ui")
    # The callback stored the Strict session cookie: the page it lands on must see it at once.
    assert page.is_visible("#username"), explain(page, trail)
    assert page.text_content("#username") == USERNAME
    assert page.text_content("#role") == "resource_admin"
    assert page.text_content("#app-status") == "ready"

    me = page.request.get(f"{gateway}/bodhi/v1/user").json()
    assert me["auth_status"] == "logged_in"
    assert (me["username"], me["role"]) == (USERNAME, "resource_admin")
    cookies = {c["name"]: c for c in chromium.cookies(gateway)}
    assert LOGIN_COOKIE not in cookies, explain(page, trail)
    assert set(cookies) == {SESSION_COOKIE}, explain(page, trail)
    session = cookies[SESSION_COOKIE]
    assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
    # Tokens stay server-side: nothing the page can read holds one.
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert "eyJ" not in page.content()
    assert not [c for c in chromium.cookies(gateway) if c["value"].startswith("eyJ")]

    page.click("#logout")
    page.wait_for_url(f"{gateway}/ui")
    assert page.is_visible("#login")
    assert page.request.get(f"{gateway}/bodhi/v1/user").json() == {"auth_status": "logged_out"}
    assert chromium.cookies(gateway) == []
