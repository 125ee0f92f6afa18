"""The admin console's Python side, through HTTP: page, example tabs, static assets."""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import re
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, OperationType, parse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

import rujuk.console
from rujuk.app import create_app
from rujuk.console import ConsoleContext, console_routes, render_console
from rujuk.console.assets import ConsoleStaticFiles, find_bundle
from rujuk.console.examples import example_tabs
from rujuk.services.tokens import DEVELOPMENT_TOKEN_FILE
from tests.conftest import app_settings
from tests.fixtures import create_program, register, register_ok
from tests.graphql_client import GraphQLClient

REPO = Path(__file__).resolve().parents[1]
DEV = ConsoleContext(
    admin_token="dev-token-123",
    program_id="UHJvZ3JhbTox",
    external_id="andi",
    upline_external_id="eko",
)
PROD = ConsoleContext(admin_token=None, program_id="UHJvZ3JhbTox", external_id="andi")
CONFIG_RE = re.compile(
    r'<script type="application/json" id="rujuk-console-config">(.*?)</script>', re.S
)


def console_app(context: ConsoleContext) -> Starlette:
    """An app wired the way rujuk's is: GET /graphql renders the console."""

    async def graphql_page(request: Request) -> Response:
        return render_console(request, context)

    return Starlette(routes=[Route("/graphql", graphql_page), *console_routes()])


@pytest.fixture
async def dev_http() -> AsyncIterator[httpx.AsyncClient]:
    """A client of the console app in development mode."""
    transport = httpx.ASGITransport(app=console_app(DEV))
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        yield client


async def get_page(context: ConsoleContext) -> httpx.Response:
    transport = httpx.ASGITransport(app=console_app(context))
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        return await client.get("/graphql", headers={"Accept": "text/html"})


def page_config(html: str) -> dict[str, Any]:
    match = CONFIG_RE.search(html)
    assert match is not None, html
    config: dict[str, Any] = json.loads(match.group(1))
    return config


@pytest.fixture
def built() -> None:
    """Skips when the asset build did not run (node/npm absent on this machine)."""
    if find_bundle() is None:
        pytest.skip("console assets not built: scripts/build-console needs node and npm")


@pytest.mark.usefixtures("built")
async def test_page_loads_bundle_from_own_origin_only(dev_http: httpx.AsyncClient) -> None:
    response = await dev_http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    for url in urls:
        assert url.startswith(("/console/static/", "data:")), url
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert response.headers["cache-control"] == "no-store"

    for url in urls:
        if url.startswith("/console/static/"):
            asset = await dev_http.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 10_000
            assert asset.headers["cache-control"].endswith("immutable")


async def test_dev_page_prefills_admin_token_and_examples() -> None:
    config = page_config((await get_page(DEV)).text)
    assert config["endpoint"] == "/graphql"
    assert json.loads(config["headers"]) == {"Authorization": "Bearer dev-token-123"}
    names = [operation_name(tab["query"]) for tab in config["tabs"]]
    assert names[:5] == ["TopInfluencers", "Downline", "Upline", "ProgramStats", "RecordPurchase"]
    downline = config["tabs"][1]
    assert json.loads(downline["variables"]) == {"programId": "UHJvZ3JhbTox", "externalId": "andi"}
    assert json.loads(config["tabs"][2]["variables"])["externalId"] == "eko"


async def test_other_setups_never_carry_a_token() -> None:
    response = await get_page(PROD)
    config = page_config(response.text)
    assert config["headers"] is None
    assert "Bearer" not in response.text
    assert "Authorization" not in response.text
    # Tabs saved in a dev session must not resurface, token-less or not.
    assert config["storageNamespace"] != page_config((await get_page(DEV)).text)["storageNamespace"]


async def test_config_cannot_break_out_of_its_script_element() -> None:
    hostile = ConsoleContext(
        admin_token="</script><script>alert(1)</script>", program_id="p&<!--", external_id=None
    )
    html = (await get_page(hostile)).text
    assert "<script>alert(1)" not in html
    config = page_config(html)
    assert json.loads(config["headers"])["Authorization"].endswith("</script>")
    assert json.loads(config["tabs"][0]["variables"])["programId"] == "p&<!--"


async def test_without_demo_data_tabs_carry_placeholders() -> None:
    config = page_config((await get_page(ConsoleContext(None, None, None))).text)
    variables = json.loads(config["tabs"][1]["variables"])
    assert variables["programId"].startswith("<program id")
    assert variables["externalId"].startswith("<customer")


async def test_without_build_falls_back_to_cdn_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rujuk.console, "find_bundle", lambda: None)
    monkeypatch.setattr(rujuk.console, "_fallback_warned", threading.Event())
    with caplog.at_level(logging.WARNING, logger="rujuk.console"):
        first = await get_page(DEV)
        await get_page(DEV)
    assert first.status_code == 200
    assert "https://unpkg.com/graphiql@" in first.text
    assert 'integrity="sha384-' in first.text
    assert "content-security-policy" not in first.headers
    assert page_config(first.text)["tabs"]
    warnings = [r for r in caplog.records if "CDN" in r.getMessage()]
    assert len(warnings) == 1, "warned once per process, not per page view"
    assert warnings[0].levelno == logging.WARNING


# --- who gets the development token -----------------------------------------

ON_DISK = "rjk_the-development-admin-token"


@pytest.mark.parametrize(
    ("served_host", "clients"),
    [
        # A server on loopback: only browsers on this machine get the token.
        ("127.0.0.1", {"127.0.0.1": True, "::1": True, "192.168.1.20": False, "10.0.0.7": False}),
        ("localhost", {"127.0.0.1": True, "203.0.113.9": False}),
        ("::1", {"::1": True, "::ffff:127.0.0.1": True, "fe80::1": False}),
        # Reachable from the network: nobody gets it, not even a browser on this machine.
        ("0.0.0.0", {"127.0.0.1": False, "192.168.1.20": False}),
        ("::", {"::1": False, "127.0.0.1": False}),
        ("192.168.1.5", {"127.0.0.1": False, "192.168.1.20": False}),
        # An app not started by `rujuk serve` does not know where it listens.
        (None, {"127.0.0.1": False}),
    ],
)
async def test_the_development_token_reaches_loopback_browsers_of_a_loopback_server_only(
    database_url: str, tmp_path: Path, served_host: str | None, clients: dict[str, bool]
) -> None:
    (tmp_path / DEVELOPMENT_TOKEN_FILE).write_text(ON_DISK + "\n")
    settings = dataclasses.replace(
        app_settings(tmp_path), embedded_workers=True, served_host=served_host
    )
    assert settings.development
    application = create_app(settings, database_url)
    async with application.router.lifespan_context(application):
        for client, prefilled in clients.items():
            transport = httpx.ASGITransport(app=application, client=(client, 50123))
            async with httpx.AsyncClient(transport=transport, base_url="http://rujuk.test") as http:
                page = await http.get("/graphql", headers={"Accept": "text/html"})
            assert page.status_code == 200
            headers = page_config(page.text)["headers"]
            if prefilled:
                assert json.loads(headers) == {"Authorization": f"Bearer {ON_DISK}"}, client
            else:
                assert headers is None, (served_host, client)
                assert ON_DISK not in page.text, (served_host, client)


async def test_the_root_redirects_to_the_console(http: httpx.AsyncClient) -> None:
    for method in ("GET", "HEAD"):
        response = await http.request(method, "/")
        assert response.status_code == 307, method
        assert response.headers["location"] == "/graphql"
    page = await http.get("/", headers={"Accept": "text/html"}, follow_redirects=True)
    assert page.status_code == 200
    assert page_config(page.text)["endpoint"] == "/graphql"


def the_operation(query: str) -> OperationDefinitionNode:
    operations = [d for d in parse(query).definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1
    return operations[0]


def operation_name(query: str) -> str:
    name = the_operation(query).name
    assert name is not None
    return name.value


def operation_type(query: str) -> OperationType:
    return the_operation(query).operation


def test_example_order_ids_are_fresh_per_page_unless_given() -> None:
    first, second = example_tabs("p", "c"), example_tabs("p", "c")
    assert first[4].variables != second[4].variables
    fixed = example_tabs("p", "c", order_id="order-1")[4]
    assert fixed.variables is not None
    assert json.loads(fixed.variables)["orderId"] == "order-1"


# --- static assets ---------------------------------------------------------


@pytest.fixture
async def static_http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ConsoleStaticFiles over a tiny fake build."""
    (tmp_path / "console.js").write_text("console.log('rujuk');\n" * 200)
    (tmp_path / "console.js.gz").write_bytes(gzip.compress((tmp_path / "console.js").read_bytes()))
    (tmp_path / "console.css").write_text("body{margin:0}\n")
    app = Starlette(routes=[Mount("/s", app=ConsoleStaticFiles(directory=tmp_path))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        yield client


async def test_static_serves_precompressed_gzip(static_http: httpx.AsyncClient) -> None:
    response = await static_http.get("/s/console.js?v=abc", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.text.startswith("console.log('rujuk');")  # httpx decoded it

    plain = await static_http.get("/s/console.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == response.text
    assert plain.headers["cache-control"] == "no-cache"


async def test_static_revalidates_and_404s(static_http: httpx.AsyncClient) -> None:
    first = await static_http.get("/s/console.css")
    again = await static_http.get(
        "/s/console.css", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert (await static_http.get("/s/nope.js")).status_code == 404
    assert (await static_http.get("/s/../test_console.py")).status_code == 404


async def test_static_route_tolerates_missing_build(tmp_path: Path) -> None:
    app = Starlette(routes=[Mount("/s", app=ConsoleStaticFiles(directory=tmp_path / "absent"))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console.test") as client:
        assert (await client.get("/s/console.js")).status_code == 404


def test_find_bundle_digest_changes_with_the_build(tmp_path: Path) -> None:
    assert find_bundle(tmp_path) is None
    (tmp_path / "console.js").write_text("a")
    (tmp_path / "console.css").write_text("b")
    before = find_bundle(tmp_path)
    (tmp_path / "console.js").write_text("a longer build")
    after = find_bundle(tmp_path)
    assert before is not None
    assert after is not None
    assert before.digest != after.digest


def test_npm_dependencies_are_pinned() -> None:
    package = json.loads((REPO / "web/console/package.json").read_text())
    lock = json.loads((REPO / "web/console/package-lock.json").read_text())
    for section in ("dependencies", "devDependencies"):
        for name, version in package[section].items():
            assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}@{version} is not exact"
            assert lock["packages"][f"node_modules/{name}"]["version"] == version
    for name in ("graphiql", "@graphiql/plugin-explorer", "react", "react-dom", "vite"):
        assert name in package["dependencies"] or name in package["devDependencies"]


def test_tree_plugin_logic() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the console falls back to the CDN page")
    result = subprocess.run(
        [node, "--test", "test/"],
        cwd=REPO / "web/console",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the examples against the real schema -----------------------------------


async def test_every_example_tab_runs_on_a_real_tree(gql: GraphQLClient) -> None:
    program = await create_program(gql)
    root = await register_ok(gql, program["id"], "root", displayName="Root Customer")
    child = await register_ok(gql, program["id"], "child", root["referralCodes"][0]["code"])
    grandchild = await register_ok(gql, program["id"], "grand", child["referralCodes"][0]["code"])

    tabs = example_tabs(program["id"], "root", grandchild["externalId"], order_id="console-test-1")
    for tab in tabs:
        variables = json.loads(tab.variables) if tab.variables else {}
        body = await gql.post(tab.query, variables)
        assert "errors" not in body, (operation_name(tab.query), body["errors"])
        operations = [
            d for d in parse(tab.query).definitions if isinstance(d, OperationDefinitionNode)
        ]
        if operations[0].operation is OperationType.MUTATION:
            assert body["data"]["recordPurchase"]["userErrors"] == []

    downline = await gql.data(tabs[1].query, json.loads(tabs[1].variables or "{}"))
    edges = downline["customer"]["downline"]["edges"]
    assert [(e["depth"], e["node"]["externalId"]) for e in edges] == [(1, "child"), (2, "grand")]
    upline = await gql.data(tabs[2].query, json.loads(tabs[2].variables or "{}"))
    assert [c["externalId"] for c in upline["customer"]["ancestors"]] == ["child", "root"]


async def test_the_review_queue_tab_lists_flagged_sign_ups_and_its_hint_works(
    gql: GraphQLClient,
) -> None:
    program = await create_program(gql)
    root = await register_ok(gql, program["id"], "root")
    await register_ok(gql, program["id"], "clean", root["referralCodes"][0]["code"])
    flagged = await register(
        gql, program["id"], "suspect", root["referralCodes"][0]["code"], email="x@mailinator.com"
    )
    assert flagged["referral"]["status"] == "FLAGGED"
    [tab] = [t for t in example_tabs(program["id"], "root") if "ReviewQueue" in t.query]
    variables = json.loads(tab.variables or "{}")
    queue = (await gql.data(tab.query, variables))["program"]["referrals"]
    assert queue["totalCount"] == 1
    [edge] = queue["edges"]
    assert edge["node"]["referee"]["externalId"] == "suspect"
    assert edge["node"]["fraudSignals"] == ["DISPOSABLE_EMAIL"]
    # The commented mutation, with the id filled in, empties the queue.
    hint = "\n".join(
        line.removeprefix("#   ") for line in tab.query.splitlines() if line.startswith("#   ")
    )
    reviewed = await gql.data(hint.replace("<id>", edge["node"]["id"]))
    assert reviewed["reviewReferral"] == {"referral": {"status": "ACTIVE"}, "userErrors": []}
    queue = (await gql.data(tab.query, variables))["program"]["referrals"]
    assert queue["totalCount"] == 0
