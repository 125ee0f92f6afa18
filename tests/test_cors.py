"""Browser frontends on other origins (RUJUK_CORS_ORIGINS): preflights, both request paths, the
setting's validation, and a real cross-origin fetch from a page in headless Chromium.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright

from rujuk.app import create_app
from rujuk.config import ConfigError, load_settings
from tests.browser import CHROMIUM_ARGS
from tests.conftest import app_settings
from tests.fixtures import CREATE_PROGRAM, DEFAULT_TIERS, REGISTER
from tests.graphql_client import ADMIN_TOKEN
from tests.servers import running_server

SHOP = "https://shop.example"


@contextlib.asynccontextmanager
async def client_of(
    database_url: str, tmp_path: Path, origins: tuple[str, ...]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = dataclasses.replace(app_settings(tmp_path), cors_origins=origins)
    application = create_app(settings, database_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as client:
            yield client


def preflight(origin: str, headers: str = "authorization, content-type") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": headers,
    }


async def test_a_listed_origin_gets_its_preflight_and_answers(
    database_url: str, tmp_path: Path
) -> None:
    async with client_of(database_url, tmp_path, ("http://localhost:5173", SHOP)) as client:
        allowed = await client.options("/graphql", headers=preflight(SHOP))
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["access-control-allow-origin"] == SHOP
        headers = {
            h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")
        }
        assert {"authorization", "content-type"} <= headers
        methods = {m.strip() for m in allowed.headers["access-control-allow-methods"].split(",")}
        assert {"GET", "POST"} <= methods
        assert "access-control-allow-credentials" not in allowed.headers

        for origin in ("https://evil.example", "https://shop.example.evil.example", "null"):
            answer = await client.options("/graphql", headers=preflight(origin))
            assert answer.status_code == 400
            assert "access-control-allow-origin" not in answer.headers
        other_header = await client.options(
            "/graphql", headers=preflight(SHOP, "authorization, x-forwarded-for")
        )
        assert other_header.status_code == 400
        assert "x-forwarded-for" not in other_header.headers["access-control-allow-headers"]

        # POST /graphql takes the app's fast path, GET the router's: both carry the headers.
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        post = await client.post(
            "/graphql", json={"query": "{ programs { id } }"}, headers={"Origin": SHOP, **auth}
        )
        assert post.json() == {"data": {"programs": []}, "extensions": post.json()["extensions"]}
        assert post.headers["access-control-allow-origin"] == SHOP
        assert "origin" in post.headers["vary"].lower()
        get = await client.get(
            "/graphql", params={"query": "{ programs { id } }"}, headers={"Origin": SHOP, **auth}
        )
        assert get.json()["data"] == {"programs": []}
        assert get.headers["access-control-allow-origin"] == SHOP

        # Another origin is answered (a server cannot stop a request) but not allowed to read.
        other = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://evil.example"}
        )
        assert other.status_code == 200
        assert "access-control-allow-origin" not in other.headers
        plain = await client.post("/graphql", json={"query": "{ __typename }"})
        assert "access-control-allow-origin" not in plain.headers


async def test_without_the_setting_no_origin_is_allowed(database_url: str, tmp_path: Path) -> None:
    async with client_of(database_url, tmp_path, ()) as client:
        answer = await client.options("/graphql", headers=preflight(SHOP))
        assert answer.status_code == 405
        assert "access-control-allow-origin" not in answer.headers
        post = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": SHOP}
        )
        assert "access-control-allow-origin" not in post.headers


async def test_the_wildcard_allows_any_origin_without_credentials(
    database_url: str, tmp_path: Path
) -> None:
    async with client_of(database_url, tmp_path, ("*",)) as client:
        answer = await client.options("/graphql", headers=preflight("https://anyone.example"))
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers
        post = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://a.example"}
        )
        assert post.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in post.headers


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("", ()),
        ("https://shop.example", ("https://shop.example",)),
        (
            " https://a.example , http://localhost:5173,",
            ("https://a.example", "http://localhost:5173"),
        ),
        ("http://[::1]:3000", ("http://[::1]:3000",)),
        ("*", ("*",)),
    ],
)
def test_the_origins_setting_is_read(value: str, origins: tuple[str, ...]) -> None:
    assert load_settings({"RUJUK_CORS_ORIGINS": value}).cors_origins == origins


@pytest.mark.parametrize(
    "value",
    [
        "https://shop.example/",  # a trailing slash never matches what browsers send
        "https://shop.example/app",
        "shop.example",
        "ftp://shop.example",
        "https://Shop.example",
        "https://shop.example:443",
        "https://user@shop.example",
        "https://shop.example:99999",
        "https://shop.example?x=1",
        "*, https://shop.example",
        "https://*.example",
    ],
)
def test_a_bad_origin_is_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="RUJUK_CORS_ORIGINS"):
        load_settings({"RUJUK_CORS_ORIGINS": value})


# --- a real browser ------------------------------------------------------------------------

SHOP_PAGE = b"<!doctype html><title>Toko</title><p>a shop's customer dashboard</p>"

FETCH = """
async ({url, token, query, variables}) => {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {"Authorization": `Bearer ${token}`, "Content-Type": "application/json"},
      body: JSON.stringify({query, variables}),
    });
    return {status: response.status, body: await response.json()};
  } catch (error) {
    return {error: String(error)};
  }
}
"""


class ShopPage(BaseHTTPRequestHandler):
    """The frontend's origin: one static page, as a shop's web app would serve it."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(SHOP_PAGE)))
        self.end_headers()
        self.wfile.write(SHOP_PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test's output is pytest's."""


@contextlib.contextmanager
def shop_server() -> Iterator[int]:
    """A static web server on loopback; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), ShopPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def test_a_browser_page_on_a_listed_origin_calls_rujuk_and_others_are_blocked(
    database_url: str, tmp_path: Path, chromium_executable: str
) -> None:
    with shop_server() as port:
        listed = f"http://127.0.0.1:{port}"
        # The same page under another name is another origin, not on the list.
        unlisted = f"http://localhost:{port}"
        settings = {"RUJUK_CORS_ORIGINS": f"{SHOP},{listed}"}
        async with running_server(database_url, ADMIN_TOKEN, tmp_path, settings=settings) as base:
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with httpx.AsyncClient(base_url=base, timeout=10, headers=admin) as backend:
                program = await backend.post(
                    "/graphql",
                    json={
                        "query": CREATE_PROGRAM,
                        "variables": {"input": {"name": "Toko", "tiers": DEFAULT_TIERS}},
                    },
                )
                program_id = program.json()["data"]["createProgram"]["program"]["id"]
                andi = await backend.post(
                    "/graphql",
                    json={
                        "query": REGISTER,
                        "variables": {
                            "input": {
                                "programId": program_id,
                                "externalId": "andi",
                                "displayName": "Andi",
                            }
                        },
                    },
                )
                customer_id = andi.json()["data"]["registerCustomer"]["customer"]["id"]
                issued = await backend.post(
                    "/graphql",
                    json={
                        "query": "mutation($c: ID!) { issueCustomerToken(input: {customerId: $c})"
                        " { token userErrors { code } } }",
                        "variables": {"c": customer_id},
                    },
                )
                customer_token = issued.json()["data"]["issueCustomerToken"]["token"]
                assert customer_token

            register_mallory: dict[str, Any] = {
                "url": f"{base}/graphql",
                "token": ADMIN_TOKEN,
                "query": "mutation($p: ID!) { registerCustomer(input: {programId: $p,"
                ' externalId: "mallory", displayName: "Mallory"}) { customer { id } } }',
                "variables": {"p": program_id},
            }
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=chromium_executable, args=CHROMIUM_ARGS
                )
                try:
                    page = await browser.new_page()
                    await page.goto(f"{listed}/")
                    viewer = await page.evaluate(
                        FETCH,
                        {
                            "url": f"{base}/graphql",
                            "token": customer_token,
                            "query": "{ viewer { displayName balance { pending } } }",
                            "variables": {},
                        },
                    )
                    assert viewer.get("status") == 200, viewer
                    assert viewer["body"]["data"]["viewer"] == {
                        "displayName": "Andi",
                        "balance": {"pending": "0"},
                    }
                    programs = await page.evaluate(
                        FETCH,
                        {
                            "url": f"{base}/graphql",
                            "token": ADMIN_TOKEN,
                            "query": "{ programs { name } }",
                            "variables": {},
                        },
                    )
                    assert programs.get("body", {}).get("data") == {"programs": [{"name": "Toko"}]}

                    await page.goto(f"{unlisted}/")
                    blocked = await page.evaluate(FETCH, register_mallory)
                    assert "error" in blocked, blocked
                    assert "Failed to fetch" in blocked["error"]
                finally:
                    await browser.close()

            # Refused at the preflight: the browser never sent the mutation.
            async with httpx.AsyncClient(base_url=base, timeout=10, headers=admin) as backend:
                mallory = await backend.post(
                    "/graphql",
                    json={
                        "query": 'query($p: ID!) { customer(programId: $p, externalId: "mallory")'
                        " { id } }",
                        "variables": {"p": program_id},
                    },
                )
                assert mallory.json()["data"]["customer"] is None, mallory.json()
