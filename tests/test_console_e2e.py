"""The admin console in headless Chromium against a running rujuk with demo data.

Opens /graphql, runs the downline example tab, reads the result pane, opens
the Referral tree panel and finds the customers in it; and checks that no
request left the server's origin. Skips only when no Chromium can be had.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.async_api import Page, Request, Route, WebSocket, async_playwright

from tests.browser import CHROMIUM_ARGS

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "test-artifacts" / "console.png"
# Monaco and a 5 MB bundle on a 2-core machine: generous, but bounded.
TIMEOUT_MS = 60_000
EXAMPLE_TABS = [
    "TopInfluencers",
    "Downline",
    "Upline",
    "ProgramStats",
    "RecordPurchase",
    "ReviewQueue",
    "Programs",
]


def same_origin(url: str, origin: str) -> bool:
    """Whether a request URL stays on the server (data: and blob: stay in the page)."""
    parts, own = urlsplit(url), urlsplit(origin)
    if parts.scheme in ("data", "blob", "about"):
        return True
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return (scheme, parts.netloc) == (own.scheme, own.netloc)


async def tree_names(page: Page) -> list[str]:
    names: list[str] = await page.get_by_test_id("tree-node-name").all_inner_texts()
    return names


@dataclass
class Console:
    """The console page in Chromium, with what it requested and what went wrong."""

    page: Page
    config: dict[str, Any]
    origin: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@asynccontextmanager
async def open_console(
    live_server: Any, chromium_executable: str, width: int, height: int
) -> AsyncIterator[Console]:
    """The console loaded with its example tabs, authorized, in a browser of that size."""
    origin = str(live_server.url).rstrip("/")
    requests: list[str] = []
    foreign: list[str] = []
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable, args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(viewport={"width": width, "height": height})
            context.set_default_timeout(TIMEOUT_MS)

            def on_request(request: Request) -> None:
                requests.append(request.url)
                if not same_origin(request.url, origin):
                    foreign.append(request.url)

            def on_websocket(socket: WebSocket) -> None:
                requests.append(socket.url)
                if not same_origin(socket.url, origin):
                    foreign.append(socket.url)

            async def guard(route: Route) -> None:
                # Recorded above; aborted here so the test never depends on
                # (or leaks to) the outside network.
                if same_origin(route.request.url, origin):
                    await route.continue_()
                else:
                    await route.abort()

            context.on("request", on_request)
            await context.route("**/*", guard)
            page = await context.new_page()
            page.on("websocket", on_websocket)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda message: (
                    problems.append(f"console: {message.text}")
                    if message.type == "error" or "Content Security Policy" in message.text
                    else None
                ),
            )

            response = await page.goto(f"{origin}/graphql")
            assert response is not None
            assert response.ok, response.status
            assert "text/html" in response.headers["content-type"]
            config = json.loads(await page.locator("#rujuk-console-config").text_content() or "")
            assert "/console/static/" in await page.content(), "self-hosted bundle, not the CDN"

            await page.locator(".graphiql-tab").nth(len(EXAMPLE_TABS) - 1).wait_for()
            if config["headers"] is None:
                # Not a development server: the page rightly carries no token,
                # so the test adds the admin's as a user would.
                token = live_server.admin_token

                async def authorize(route: Route) -> None:
                    headers = {**route.request.headers, "authorization": f"Bearer {token}"}
                    await route.continue_(headers=headers)

                await page.route(f"{origin}/graphql", authorize)
            yield Console(page, config, origin, requests, foreign, problems)
        finally:
            await browser.close()


async def test_console_runs_downline_and_draws_the_tree(
    live_server: Any, chromium_executable: str
) -> None:
    async with open_console(live_server, chromium_executable, 1440, 900) as console:
        page, config, origin = console.page, console.config, console.origin
        tabs = page.locator(".graphiql-tab")
        titles = [title.strip() for title in await tabs.all_inner_texts()]
        assert titles[: len(EXAMPLE_TABS)] == EXAMPLE_TABS

        # What a new user does first: run the tab the page opens on.
        top = await run_tab(page, "TopInfluencers")
        assert top["byInfluence"], "the demo program has influencers"

        customer = (await run_tab(page, "Downline"))["customer"]
        edges = customer["downline"]["edges"]
        assert edges, "the demo customer of the Downline tab has a downline"
        assert max(edge["depth"] for edge in edges) <= 3

        # The result pane shows the response (Monaco renders visible lines only).
        result_pane = page.locator(".graphiql-response")
        await result_pane.filter(has_text=customer["displayName"]).wait_for()
        assert '"downline"' in await result_pane.inner_text()

        # The names the tree must show, fetched independently of the page.
        variables = json.loads(config["tabs"][1]["variables"])
        expected = await expected_downline_names(origin, live_server.admin_token, variables)
        assert expected[0] == customer["displayName"]

        await page.get_by_role("button", name="Show Referral tree").click()
        tree = page.get_by_test_id("referral-tree")
        await tree.get_by_test_id("tree-node-name").first.wait_for()
        names = await tree_names(page)
        assert names[0] == customer["displayName"], names
        assert sorted(names) == sorted(expected), (names, expected)
        assert len(names) == 1 + len(edges)
        root_row = tree.get_by_test_id("tree-node").first
        root_stats = customer["stats"]
        assert root_stats["tier"] in await root_row.inner_text()
        assert f"network {root_stats['networkSize']}" in await root_row.inner_text()

        # Collapsible: folding the root hides the whole downline.
        await tree.get_by_role("button", name=f"Collapse {customer['displayName']}").click()
        assert await tree_names(page) == [customer["displayName"]]
        await tree.get_by_role("button", name="Expand all").click()
        assert len(await tree_names(page)) == 1 + len(edges)

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

        # Tabs restored from localStorage: same tabs, and they still run.
        await page.reload()
        await tabs.nth(len(EXAMPLE_TABS) - 1).wait_for()
        assert [t.strip() for t in await tabs.all_inner_texts()] == titles
        assert (await run_tab(page, "Downline"))["customer"]["downline"]["edges"] == edges

    assert any("/console/static/" in url for url in console.requests), console.requests
    assert console.foreign == [], f"requests left the server's origin: {console.foreign}"
    assert console.problems == [], console.problems


async def run_tab(page: Page, name: str, *, select: bool = True) -> dict[str, Any]:
    """Selects an example tab (unless it is open), presses run, returns the response's data."""
    if select:
        await page.get_by_role("tab", name=name).click()
        await page.locator(".graphiql-query-editor", has_text=f"query {name}").wait_for()
    async with page.expect_response(
        lambda r: r.request.method == "POST" and name in (r.request.post_data or "")
    ) as response_info:
        await page.locator(".graphiql-execute-button").click()
    body = await (await response_info.value).json()
    assert "errors" not in body, (name, body["errors"])
    data: dict[str, Any] = body["data"]
    return data


async def expected_downline_names(origin: str, token: str, variables: dict[str, Any]) -> list[str]:
    """The root's and its downline's display names, straight from the API."""
    query = """
    query($programId: ID!, $externalId: String!) {
      customer(programId: $programId, externalId: $externalId) {
        displayName
        downline(maxDepth: 3, first: 100) { edges { node { displayName } } }
      }
    }"""
    async with httpx.AsyncClient(base_url=origin, timeout=30) as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body = response.json()
    assert "errors" not in body, body["errors"]
    customer = body["data"]["customer"]
    return [customer["displayName"]] + [
        edge["node"]["displayName"] for edge in customer["downline"]["edges"]
    ]


def rupiah(amount: str) -> str:
    """An IDR amount as Intl.NumberFormat('id-ID') writes it, with a plain space."""
    return "Rp " + f"{int(Decimal(amount)):,}".replace(",", ".")


async def open_downline_tree(page: Page) -> dict[str, Any]:
    """Runs the Downline tab, opens the Referral tree panel, returns the customer."""
    customer: dict[str, Any] = (await run_tab(page, "Downline"))["customer"]
    await page.get_by_role("button", name="Show Referral tree").click()
    await page.get_by_test_id("referral-tree").get_by_test_id("tree-node-name").first.wait_for()
    return customer


async def test_at_1280x720_the_tree_panel_leaves_tab_titles_and_logo_whole(
    live_server: Any, chromium_executable: str
) -> None:
    async with open_console(live_server, chromium_executable, 1280, 720) as console:
        page = console.page
        await open_downline_tree(page)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT.with_name("console-1280x720.png")))
        layout = await page.evaluate(
            """() => {
              const bar = document.querySelector('.graphiql-tabs');
              const box = bar.getBoundingClientRect();
              const tabs = [...bar.querySelectorAll('.graphiql-tab')].map((tab) => {
                const rect = tab.getBoundingClientRect();
                const button = tab.querySelector('.graphiql-tab-button');
                return {
                  title: tab.innerText.trim(),
                  inside: rect.left >= box.left - 0.5 && rect.right <= box.right + 0.5,
                  whole: button.scrollWidth <= button.clientWidth,
                };
              });
              return {
                tabs,
                barScrolls: bar.scrollWidth > bar.clientWidth,
                logoLines: document.querySelector('.rujuk-logo').getClientRects().length,
              };
            }"""
        )
        titles = [tab["title"] for tab in layout["tabs"]]
        assert titles[: len(EXAMPLE_TABS)] == EXAMPLE_TABS, layout
        assert all(tab["inside"] and tab["whole"] for tab in layout["tabs"]), layout
        assert not layout["barScrolls"], layout
        assert layout["logoLines"] == 1, layout
    assert console.problems == [], console.problems


async def test_the_tree_shows_money_in_the_program_currency(
    live_server: Any, chromium_executable: str
) -> None:
    async with open_console(live_server, chromium_executable, 1280, 720) as console:
        customer = await open_downline_tree(console.page)
        assert customer["program"]["currency"] == "IDR"
        tree = console.page.get_by_test_id("referral-tree")
        shown = (await tree.get_by_test_id("tree-node").first.inner_text()).replace("\u00a0", " ")
        balance = customer["balance"]
        assert f"{rupiah(balance['pending'])} / {rupiah(balance['approved'])}" in shown, shown
    assert console.problems == [], console.problems


async def test_the_tree_of_a_customer_that_does_not_exist_says_so(
    live_server: Any, chromium_executable: str
) -> None:
    async with open_console(live_server, chromium_executable, 1280, 720) as console:
        page = console.page
        await page.get_by_role("tab", name="Downline").click()
        await page.locator(".graphiql-query-editor", has_text="query Downline").wait_for()
        variables = json.loads(console.config["tabs"][1]["variables"])
        variables["externalId"] = "no-such-customer"
        await page.locator(".graphiql-editor-tool .graphiql-editor").first.click()
        await page.keyboard.press("ControlOrMeta+a")
        await page.keyboard.insert_text(json.dumps(variables))
        # The editor closes brackets and quotes as they are typed: drop what it added.
        await page.keyboard.press("ControlOrMeta+Shift+End")
        await page.keyboard.press("Delete")
        data = await run_tab(page, "Downline", select=False)
        assert data == {"customer": None}
        await page.get_by_role("button", name="Show Referral tree").click()
        message = await page.get_by_test_id("tree-message").inner_text()
        assert "not found" in message, message
        assert "Select" not in message, message

    assert console.problems == [], console.problems
