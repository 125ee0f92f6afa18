"""The Starlette application: /graphql (HTTP and WebSocket) and /healthz."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.types.unset import UNSET, UnsetType

from rujuk.config import Settings
from rujuk.errors import RequestError
from rujuk.resolvers.context import Context
from rujuk.runtime import Runtime
from rujuk.schema import build_schema
from rujuk.services.tokens import principal_for

logger = logging.getLogger(__name__)


class GraphQLEndpoint(GraphQL[Context, None]):
    """strawberry's ASGI view, with rujuk's context."""

    def __init__(self, runtime_holder: RuntimeHolder) -> None:
        super().__init__(build_schema(), graphql_ide="graphiql")
        self.holder = runtime_holder

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        runtime = self.holder.runtime
        try:
            caller: Any = await principal_for(runtime, _authorization(request))
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


def _authorization(request: Request | WebSocket) -> str | None:
    return request.headers.get("authorization")


class RuntimeHolder:
    """The runtime, set by the lifespan once the database is ready."""

    _runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        assert self._runtime is not None, "the app's lifespan has not started"
        return self._runtime


def create_app(settings: Settings, database_url: str) -> Starlette:
    """The ASGI app; it connects and loads the graphs in its lifespan."""
    holder = RuntimeHolder()
    endpoint = GraphQLEndpoint(holder)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        holder._runtime = await Runtime.start(settings, database_url)
        try:
            yield
        finally:
            await holder.runtime.close()

    async def healthz(_request: Request) -> Response:
        try:
            await holder.runtime.pool.fetchval("SELECT 1")
        except Exception as exc:
            logger.warning("health check failed: %s", exc)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", endpoint),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )


def app_from_environment() -> Starlette:
    """The factory uvicorn's workers call: the CLI has put the database URL in DATABASE_URL."""
    from rujuk.config import load_settings

    settings = load_settings()
    assert settings.database_url is not None, "rujuk serve sets DATABASE_URL for its workers"
    return create_app(settings, settings.database_url)
