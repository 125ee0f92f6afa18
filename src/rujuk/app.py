"""The Starlette application: /graphql (HTTP and WebSocket) and /healthz."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from rujuk import demo
from rujuk.config import Settings
from rujuk.console import ConsoleContext, console_routes, is_loopback, render_console
from rujuk.errors import RequestError
from rujuk.rate_limit import RateLimiter
from rujuk.resolvers.context import Context
from rujuk.runtime import Runtime
from rujuk.schema import build_schema
from rujuk.schema.operation import execute_operation
from rujuk.services.tokens import development_token, principal_for

logger = logging.getLogger(__name__)

POST_OPERATIONS = OperationType.from_http("POST")


class GraphQLEndpoint(GraphQL[Context, None]):
    """strawberry's ASGI view, with rujuk's context and the self-hosted console."""

    def __init__(self, settings: Settings) -> None:
        schema = build_schema()
        super().__init__(schema, graphql_ide="graphiql")
        self.graphql_schema = schema._schema
        self.max_body_bytes = settings.max_body_bytes
        # Per worker process: with --workers N a caller may spend up to N times the rate.
        self.rate_limiter = RateLimiter(settings.rate_limit_cost_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        body = await self._bounded_body(scope, receive)
        if body is None:
            too_large = JSONResponse(
                {
                    "errors": [
                        {
                            "message": f"request body over {self.max_body_bytes} bytes",
                            "extensions": {
                                "code": "REQUEST_TOO_LARGE",
                                "maxBytes": self.max_body_bytes,
                            },
                        }
                    ]
                },
                status_code=413,
            )
            await too_large(scope, receive, send)
            return
        request = Request(scope, _replay(body))
        response = await self._answer_json(request, body) if scope["method"] == "POST" else None
        # strawberry answers transport errors (malformed JSON, a mutation over GET, ...) in
        # text/plain; clients get them as GraphQL errors with a code, like every other error.
        try:
            if response is None:
                response = await self.run(request)
        except HTTPException as error:
            response = JSONResponse(
                {"errors": [{"message": error.reason, "extensions": {"code": "BAD_REQUEST"}}]},
                status_code=error.status_code,
            )
        await response(scope, receive, send)

    async def _answer_json(self, request: Request, body: bytes) -> Response | None:
        """The everyday request, one operation in JSON, without strawberry's generic view
        (batches, uploads, streaming: a tenth of such a request's CPU). None leaves the
        request to that view: anything else, and every refusal it words itself.
        """
        headers = request.headers
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type != "application/json" or self._get_stream_transport_from_headers(headers):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        query, variables = data.get("query"), data.get("variables")
        operation_name, extensions = data.get("operationName"), data.get("extensions")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            return None
        if not isinstance(operation_name, str | None) or not isinstance(extensions, dict | None):
            return None
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, sub_response)
        result = await execute_operation(
            self.graphql_schema, query, variables, operation_name, context, extensions
        )
        if result is None:
            try:
                result = await self.schema.execute(
                    query,
                    variable_values=variables,
                    context_value=context,
                    operation_name=operation_name,
                    allowed_operation_types=POST_OPERATIONS,
                    operation_extensions=extensions,
                )
            except (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError):
                # Refused before anything ran: strawberry's view answers it, in its words.
                return None
        processed = await self.process_result(request, result)
        return self.create_response(response_data=processed, sub_response=sub_response)

    async def _bounded_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole request body, or None as soon as it is over the limit (not read further)."""
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        runtime: Runtime = request.app.state.runtime
        try:
            caller: Any = await principal_for(runtime, request.headers.get("authorization"))
        except RequestError as error:
            caller = error
        return Context(
            runtime=runtime,
            request=request,
            caller=caller,
            response=response,
            request_id=os.urandom(8).hex(),
            rate_limiter=self.rate_limiter,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        # A browser cannot set headers on a WebSocket: the token may come in connection_init.
        params: dict[str, Any] = context.connection_params or {}
        authorization: object = params.get("Authorization") or params.get("authorization")
        if isinstance(authorization, str):
            try:
                context.caller = await principal_for(context.runtime, authorization)
            except RequestError as error:
                context.caller = error
        acknowledged: UnsetType = UNSET
        return acknowledged

    async def render_graphql_ide(self, request: Request) -> Response:
        state = request.app.state
        # The example customers are chosen once: a walk over every member is not per page view.
        if state.showcase is None or state.showcase.influencer_external_id is None:
            state.showcase = demo.showcase(state.runtime)
        showcase = state.showcase
        client = request.client
        return render_console(
            request,
            ConsoleContext(
                admin_token=state.console_token
                if client is not None and is_loopback(client.host)
                else None,
                program_id=showcase.program_id,
                external_id=showcase.influencer_external_id,
                upline_external_id=showcase.deep_external_id,
            ),
        )


def create_app(settings: Settings, database_url: str) -> RujukApp:
    """The ASGI app; it connects and loads the graphs in its lifespan."""
    endpoint = GraphQLEndpoint(settings)
    cors = _cors_options(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.runtime = runtime = await Runtime.start(settings, database_url)
        app.state.showcase = None
        # Only a development server (embedded database) pre-fills its admin token, only if it
        # listens on loopback, and only for loopback browsers (render_graphql_ide): whoever
        # can load the page can read the token in it.
        app.state.console_token = (
            await development_token(settings.data_dir)
            if settings.development and is_loopback(settings.served_host)
            else None
        )
        try:
            yield
        finally:
            await runtime.close()

    async def healthz(request: Request) -> Response:
        try:
            await request.app.state.runtime.pool.fetchval("SELECT 1")
        except Exception as exc:
            logger.warning("health check failed: %s", exc)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def to_console(_request: Request) -> Response:
        return RedirectResponse("/graphql")

    return RujukApp(
        endpoint if cors is None else CORSMiddleware(endpoint, **cors),
        routes=[
            Route("/", to_console),
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", endpoint),
            Route("/healthz", healthz),
            *console_routes(),
        ],
        middleware=[] if cors is None else [Middleware(CORSMiddleware, **cors)],
        lifespan=lifespan,
    )


def _cors_options(settings: Settings) -> dict[str, Any] | None:
    """CORSMiddleware's options for RUJUK_CORS_ORIGINS; None when no origin is allowed."""
    if not settings.cors_origins:
        return None
    # No allow_credentials: tokens travel in the Authorization header, never in cookies, so no
    # browser request needs credentials, and `*` never meets them.
    return {
        "allow_origins": settings.cors_origins,
        "allow_methods": ("GET", "POST"),
        "allow_headers": ("Authorization", "Content-Type"),
        # RATE_LIMITED answers say when to come back.
        "expose_headers": ("Retry-After",),
        "max_age": 600,
    }


class RujukApp(Starlette):
    """Starlette, except that POST /graphql, nearly all of the traffic, goes straight to the
    GraphQL endpoint: it answers every error itself, so the router and the two exception
    middlewares (a tenth of a small mutation's CPU) have nothing to add there. `graphql` is
    the endpoint, wrapped in the CORS middleware when origins are allowed (a POST is never a
    preflight: that middleware only adds headers to it).
    """

    def __init__(self, graphql: ASGIApp, **options: Any) -> None:
        super().__init__(**options)
        self.graphql = graphql

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/graphql":
            scope["app"] = self
            await self.graphql(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _replay(body: bytes) -> Receive:
    """A receive callable that hands the already-read body to strawberry once."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        # After the body, the next message a server sends is the disconnect.
        return {"type": "http.disconnect"}

    return receive


def app_from_environment() -> Starlette:
    """The factory uvicorn's workers call: the CLI has put the database URL in DATABASE_URL."""
    from rujuk.config import configure_logging, load_settings

    settings = load_settings()
    assert settings.database_url is not None, "rujuk serve sets DATABASE_URL for its workers"
    # A worker of --workers N is a fresh interpreter: without this its logs below WARNING
    # (the graph load's among them) would be dropped.
    configure_logging(settings.log_level)
    return create_app(settings, settings.database_url)
