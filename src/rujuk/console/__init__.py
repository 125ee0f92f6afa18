"""The admin console: a self-hosted GraphiQL with example tabs and a tree view.

The JavaScript is built from npm packages by ``scripts/build-console`` into
``static/`` (a build output, not in git). Without that build, the page falls
back to GraphiQL from a public CDN and logs a warning.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount

from rujuk.console.assets import STATIC_DIR, ConsoleStaticFiles, find_bundle
from rujuk.console.examples import example_tabs
from rujuk.console.page import SELF_HOSTED_CSP, cdn_page, self_hosted_page

__all__ = ["STATIC_PATH", "ConsoleContext", "console_routes", "is_loopback", "render_console"]

logger = logging.getLogger(__name__)

STATIC_PATH = "/console/static"
STATIC_ROUTE_NAME = "console-static"
GRAPHQL_PATH = "/graphql"

# Bumped when the example tabs change, so browsers drop tabs saved from an
# older set instead of hiding the new ones (see storageNamespace).
EXAMPLES_VERSION = "2"


@dataclass(frozen=True)
class ConsoleContext:
    """What the console page needs to know about the running server."""

    admin_token: str | None
    """Pre-filled in the headers editor when not None; pass it in development only."""
    program_id: str | None
    """Opaque GraphQL ID of the demo program, used by the example tabs."""
    external_id: str | None
    """A demo customer's externalId with a deep downline, used by the example tabs."""
    upline_external_id: str | None = None
    """A demo customer deep in the tree for the upline tab; defaults to external_id."""


def is_loopback(host: str | None) -> bool:
    """Whether host is `localhost` or a loopback address: one only this machine can use."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def console_routes() -> list[BaseRoute]:
    """Routes serving the built console assets, to add to the application."""
    static = ConsoleStaticFiles(directory=STATIC_DIR)
    return [Mount(STATIC_PATH, app=static, name=STATIC_ROUTE_NAME)]


def render_console(request: Request, context: ConsoleContext) -> Response:
    """The console page, for a browser's GET on the GraphQL endpoint."""
    config = _page_config(context)
    bundle = find_bundle()
    if bundle is None:
        _warn_cdn_fallback()
        return HTMLResponse(cdn_page(config), headers=_common_headers())
    headers = _common_headers()
    headers["Content-Security-Policy"] = SELF_HOSTED_CSP
    return HTMLResponse(self_hosted_page(bundle, STATIC_PATH, config), headers=headers)


def _page_config(context: ConsoleContext) -> dict[str, Any]:
    headers = None
    if context.admin_token is not None:
        headers = json.dumps({"Authorization": f"Bearer {context.admin_token}"}, indent=2)
    tabs = example_tabs(context.program_id, context.external_id, context.upline_external_id)
    # Keyed on everything the stored tabs depend on, the dev token included
    # (the console persists headers in development): a new database or token
    # starts from fresh example tabs. Only a digest reaches localStorage keys.
    namespace_source = "\0".join(
        [
            EXAMPLES_VERSION,
            context.program_id or "",
            context.external_id or "",
            context.upline_external_id or "",
            context.admin_token or "",
        ]
    )
    return {
        "endpoint": GRAPHQL_PATH,
        "headers": headers,
        "tabs": [{"query": tab.query, "variables": tab.variables} for tab in tabs],
        "storageNamespace": hashlib.sha256(namespace_source.encode()).hexdigest()[:12],
    }


def _common_headers() -> dict[str, str]:
    # The page may embed the admin token in development: keep it out of caches.
    return {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


_fallback_warned = threading.Event()


def _warn_cdn_fallback() -> None:
    # Once per process: the page is rendered on every visit.
    if not _fallback_warned.is_set():
        _fallback_warned.set()
        logger.warning(
            "GraphiQL console assets are not built (%s missing; node/npm absent?): "
            "serving GraphiQL from the unpkg.com CDN instead. "
            "Run scripts/build-console to self-host it.",
            STATIC_DIR,
        )
