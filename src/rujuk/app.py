"""The Starlette application: /graphql (HTTP and WebSocket) and /healthz."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.types.unset import UNSET, UnsetType

from rujuk import demo
from rujuk.config import Settings
from rujuk.console import ConsoleContext, console_routes, render_console
from rujuk.errors import RequestError
from rujuk.resolvers.context import Context
from rujuk.runtime import Runtime
from rujuk.schema import build_schema
from rujuk.services.tokens import development_token, principal_for

logger = logging.getLogger(__name__)


class GraphQLEndpoint(GraphQL[Context, None]):
    """strawberry's ASGI view, with rujuk's context and the self-hosted console."""

    def __init__(self) -> None:
        super().__init__(build_schema(), graphql_ide="graphiql")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # strawberry answers transport errors (malformed JSON, a mutation over GET, ...) in
        # text/plain; clients get them as GraphQL errors with a code, like every other error.
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as error:
            response = JSONResponse(
                {"errors": [{"message": error.reason, "extensions": {"code": "BAD_REQUEST"}}]},
                status_code=error.status_code,
            )
        await response(scope, receive, send)

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
            request_id=uuid.uuid4().hex[:16],
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
        return render_console(
            request,
            ConsoleContext(
                admin_token=request.app.state.console_token,
                program_id=showcase.program_id,
                external_id=showcase.influencer_external_id,
                upline_external_id=showcase.deep_external_id,
            ),
        )


def create_app(settings: Settings, database_url: str) -> Starlette:
    """The ASGI app; it connects and loads the graphs in its lifespan."""
    endpoint = GraphQLEndpoint()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.runtime = runtime = await Runtime.start(settings, database_url)
        app.state.showcase = None
        # Only a development server (embedded database) pre-fills its admin token.
        app.state.console_token = (
            await development_token(settings.data_dir) if settings.development else None
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

    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", endpoint),
            Route("/healthz", healthz),
            *console_routes(),
        ],
        lifespan=lifespan,
    )


def app_from_environment() -> Starlette:
    """The factory uvicorn's workers call: the CLI has put the database URL in DATABASE_URL."""
    from rujuk.config import load_settings

    settings = load_settings()
    assert settings.database_url is not None, "rujuk serve sets DATABASE_URL for its workers"
    return create_app(settings, settings.database_url)
