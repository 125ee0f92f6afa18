"""The Starlette application: /graphql (HTTP and WebSocket) and /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import orjson
from cross_web import HTTPException
from graphql import OperationType as GraphQLOperation
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry import UNSET
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from rujuk import demo, metrics, metrics_endpoint
from rujuk.api import build_schema
from rujuk.compat.strawberry import (
    CannotGetOperationTypeError,
    InvalidOperationTypeError,
    OperationType,
    UnsetType,
    core_schema,
    streams,
)
from rujuk.config import Settings
from rujuk.console import ConsoleContext, console_routes, is_loopback, render_console
from rujuk.errors import RequestError, ServiceUnavailable
from rujuk.observe import exchange_of, new_request_id, observed
from rujuk.persisted_queries import PersistedQueries
from rujuk.rate_limit import RateLimiter
from rujuk.schema.context import Context
from rujuk.schema.errors import NOT_SUPPORTED, SUBSCRIPTIONS_OVER_WEBSOCKET
from rujuk.schema.operation import execute_operation, operation_type
from rujuk.services.runtime import Runtime
from rujuk.services.tokens import caller_for, development_token, principal_for

logger = logging.getLogger(__name__)

POST_OPERATIONS = OperationType.from_http("POST")
JSON = "application/json"
# GraphQL over HTTP: for a client that accepts it, a request error is a 4xx without data.
GRAPHQL_RESPONSE = "application/graphql-response+json"
ZERO_QUALITY = re.compile(r"(?:^|;)\s*q\s*=\s*0(?:\.0{0,3})?\s*(?:;|$)")


class GraphQLEndpoint(GraphQL[Context, None]):
    """strawberry's ASGI view, with rujuk's context and the self-hosted console."""

    def __init__(self, settings: Settings) -> None:
        schema = build_schema(allow_list=settings.persisted_queries == "only")
        super().__init__(schema, graphql_ide="graphiql")
        self.graphql_schema = core_schema(schema)
        self.max_body_bytes = settings.max_body_bytes
        # Per worker process: with --workers N a caller may spend up to N times the rate.
        self.rate_limiter = RateLimiter(settings.rate_limit_cost_per_minute)
        self.persisted = PersistedQueries(settings.persisted_queries)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        body = await self._bounded_body(scope, receive)
        if body is None:
            too_large = _error_response(
                scope,
                413,
                f"request body over {self.max_body_bytes} bytes",
                {"code": "REQUEST_TOO_LARGE", "maxBytes": self.max_body_bytes},
            )
            await too_large(scope, receive, send)
            return
        request = Request(scope, _replay(body))
        response: Response | None = None
        if scope["method"] == "POST":
            response = await self._answer_json(request, body)
        else:
            request, response = await self._prepare_get(request)
        # strawberry answers transport errors (malformed JSON, no query, ...) in text/plain;
        # clients get them as GraphQL errors with a code, like every other error.
        try:
            if response is None:
                response = await self.run(request)
        except HTTPException as error:
            response = _error_response(
                scope, error.status_code, error.reason, {"code": "BAD_REQUEST"}
            )
        await response(scope, receive, send)

    async def _answer_json(self, request: Request, body: bytes) -> Response | None:
        """The everyday request, one operation in JSON, without strawberry's generic view
        (batches, uploads, streaming: a tenth of such a request's CPU). None leaves the
        request to that view: anything else, and every refusal it words itself.
        """
        headers = request.headers
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type != "application/json" or streams(self, headers):
            return None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            # strawberry's view reads it with json.loads: it answers what orjson refuses
            # (lone surrogates), or words the refusal.
            return None
        if not isinstance(data, dict):
            return None
        query, variables = data.get("query"), data.get("variables")
        operation_name, extensions = data.get("operationName"), data.get("extensions")
        if not isinstance(query, str | None) or not isinstance(variables, dict | None):
            return None
        if not isinstance(operation_name, str | None) or not isinstance(extensions, dict | None):
            return None
        sub_response = await self.get_sub_response(request)
        if extensions is not None or self.persisted.mode == "only":
            try:
                query = await self.persisted.document(
                    request.app.state.runtime.pool, query, extensions
                )
            except RequestError as error:
                return self._refusal(request, sub_response, error)
        if query is None:
            return None
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

    async def _prepare_get(self, request: Request) -> tuple[Request, Response | None]:
        """A GET's persisted query looked up and its operation's type checked. The request
        strawberry's view is to run (with the looked-up document in its URL, where the view
        reads it), or a refusal."""
        params = request.query_params
        query, encoded = params.get("query"), params.get("extensions")
        if not (query or encoded):
            return request, None
        extensions = None
        if encoded:
            with contextlib.suppress(ValueError):
                extensions = json.loads(encoded)
            if not isinstance(extensions, dict):
                return request, None  # strawberry's view refuses it
        sub_response = await self.get_sub_response(request)
        try:
            document = await self.persisted.document(
                request.app.state.runtime.pool, query or None, extensions
            )
        except RequestError as error:
            return request, self._refusal(request, sub_response, error)
        if document is None:
            return request, None
        kind = operation_type(self.graphql_schema, document, params.get("operationName"))
        if kind is GraphQLOperation.MUTATION:
            sub_response.headers["Allow"] = "POST"
            refusal = RequestError(
                "mutations are not allowed over GET: send them by POST", "METHOD_NOT_ALLOWED"
            )
            return request, self._refusal(request, sub_response, refusal, 405)
        if kind is GraphQLOperation.SUBSCRIPTION:
            refusal = RequestError(SUBSCRIPTIONS_OVER_WEBSOCKET, NOT_SUPPORTED)
            return request, self._refusal(request, sub_response, refusal)
        if document != query:
            scope = dict(request.scope)
            scope["query_string"] = urlencode({**params, "query": document}).encode()
            return Request(scope, request.receive), None
        return request, None

    def _refusal(
        self,
        request: Request,
        sub_response: Response,
        error: RequestError,
        status: int | None = None,
    ) -> Response:
        """A request refused before any operation ran, as a GraphQL error with its code."""
        if status is not None:
            sub_response.status_code = status
        refused: GraphQLHTTPResponse = {
            "data": None,
            "errors": [{"message": str(error), "extensions": error.extensions}],
        }
        exchange = exchange_of(request.scope)
        if exchange is not None:
            exchange.errors_answered(refused)
        return self.create_response(refused, sub_response)

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_media_type(request.headers.get("accept"))
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media_type = sub_response.media_type or JSON
        status = sub_response.status_code
        if media_type == GRAPHQL_RESPONSE and isinstance(response_data, dict):
            refused = request_error_status(response_data)
            if refused is not None:
                del response_data["data"]
                status = status or refused
        response = Response(
            _encoded(response_data), status_code=status or 200, media_type=media_type
        )
        response.headers.raw.extend(sub_response.headers.raw)
        if sub_response.background:
            response.background = sub_response.background
        if _unavailable(response_data):
            # "Retry later", distinct from "your request is wrong".
            response.status_code = 503
            response.headers["Retry-After"] = str(ServiceUnavailable.retry_after)
        return response

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
        exchange = exchange_of(request.scope)
        customer = None
        try:
            found = await caller_for(runtime, request.headers.get("authorization"))
            caller: Any = found.principal
            customer = found.customer
        except RequestError as error:
            caller = error
        context = Context(
            runtime=runtime,
            request=request,
            caller=caller,
            response=response,
            request_id=new_request_id() if exchange is None else exchange.request_id,
            rate_limiter=self.rate_limiter,
            persisted=self.persisted,
            exchange=exchange,
        )
        if customer is not None:
            # Read by the token's check a moment ago: the viewer needs no statement of its own.
            context.known_customer(customer)
        return context

    async def process_result(self, request: Request, result: ExecutionResult) -> Any:
        processed = process_result(result)
        exchange = exchange_of(request.scope)
        if exchange is not None:
            exchange.errors_answered(processed)
        return processed

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        # A browser cannot set headers on a WebSocket: the token may come in connection_init.
        params: dict[str, Any] = context.connection_params or {}
        authorization: object = params.get("Authorization") or params.get("authorization")
        if isinstance(authorization, str):
            try:
                context.caller = await principal_for(context.runtime, authorization)
            except RequestError as error:
                # graphql-transport-ws closes with 4403, graphql-ws sends connection_error.
                payload: dict[str, object] = {
                    "message": str(error),
                    "extensions": error.extensions,
                }
                raise ConnectionRejectionError(payload) from None
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
        await runtime.webhooks.start()
        sampler = asyncio.create_task(metrics.sample_forever(runtime.pool))
        unobserve = metrics.observe_collections()
        try:
            yield
        finally:
            unobserve()
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            await runtime.webhooks.close()
            await runtime.close()

    async def healthz(request: Request) -> Response:
        checks = await request.app.state.runtime.health()
        # The worker that answered: with --workers N, which of them is (un)healthy.
        worker = {"worker": os.getpid()}
        if all(state == "ok" for state in checks.values()):
            return JSONResponse({"status": "ok", **checks, **worker})
        logger.warning("health check failed: %s", checks)
        return JSONResponse(
            {"status": "unavailable", **checks, **worker},
            status_code=503,
            headers={"Retry-After": str(ServiceUnavailable.retry_after)},
        )

    async def to_console(_request: Request) -> Response:
        return RedirectResponse("/graphql")

    return RujukApp(
        endpoint if cors is None else CORSMiddleware(endpoint, **cors),
        routes=[
            Route("/", to_console),
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", endpoint),
            Route("/healthz", healthz),
            Route("/metrics", metrics_endpoint.endpoint(settings.metrics_token)),
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
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
        elif scope["method"] == "POST" and scope["path"] == "/graphql":
            scope["app"] = self
            await observed(scope, receive, send, self.graphql)
        else:
            await observed(scope, receive, send, super().__call__)


def _error_response(
    scope: Scope, status: int, message: str, extensions: dict[str, Any]
) -> JSONResponse:
    """A refusal of the transport, as a GraphQL error with its code (and the request id)."""
    content = {"errors": [{"message": message, "extensions": extensions}]}
    exchange = exchange_of(scope)
    if exchange is not None:
        exchange.errors_answered(content)
    return JSONResponse(content, status_code=status)


@functools.lru_cache(maxsize=64)
def response_media_type(accept: str | None) -> str:
    """application/graphql-response+json when the Accept header takes it, else
    application/json (legacy clients, and those that send no Accept header). Cached: clients
    send a handful of distinct headers."""
    if accept is None or GRAPHQL_RESPONSE not in accept:
        return JSON
    for entry in accept.split(","):
        media, _, parameters = entry.partition(";")
        if media.strip() == GRAPHQL_RESPONSE:
            return JSON if ZERO_QUALITY.search(parameters) else GRAPHQL_RESPONSE
    return JSON


def request_error_status(response_data: GraphQLHTTPResponse) -> int | None:
    """The status of an answer without data (a request error: no error has a path), or
    None for an answer with data, null or not, which stays 200."""
    errors: list[dict[str, Any]] | None = response_data.get("errors")  # type: ignore[assignment]
    if response_data.get("data") is not None or not errors:
        return None
    if any("path" in error for error in errors):
        return None
    codes = {(error.get("extensions") or {}).get("code") for error in errors}
    if codes == {"PERSISTED_QUERY_NOT_FOUND"}:
        # As Apollo Server answers it: the link then sends the document with its hash.
        return 200
    return 429 if "RATE_LIMITED" in codes else 400


def _unavailable(response_data: Any) -> bool:
    """Whether a GraphQL response (or a batch) failed because the database is unavailable."""
    answers = response_data if isinstance(response_data, list) else [response_data]
    return any(
        (error.get("extensions") or {}).get("code") == ServiceUnavailable.code
        for answer in answers
        if isinstance(answer, dict)
        for error in answer.get("errors") or ()
    )


def _encoded(data: object) -> bytes:
    """An HTTP answer's body: orjson (a fifth of json.dumps's time on a dashboard's answer,
    straight to bytes). A string it refuses (a lone surrogate a client sent, echoed in an
    error) goes to json.dumps. WebSocket messages keep strawberry's encode_json (text
    frames)."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode()


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
    from rujuk.config import load_settings
    from rujuk.logs import configure_logging

    settings = load_settings()
    assert settings.database_url is not None, "rujuk serve sets DATABASE_URL for its workers"
    # A worker of --workers N is a fresh interpreter: without this its logs below WARNING
    # (the graph load's among them) would be dropped.
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, settings.database_url)
