"""One HTTP request as operators see it: its request id (the client's X-Request-ID when sane,
else a new one, sent back in the X-Request-ID header and in every error's extensions), its
GraphQL operation, outcome and duration, counted in the metrics and logged as one line.

The line holds ids, names of operations and error codes only: never a header's value other
than the request id, a variable, a query string or a body (tokens, names, e-mails, phones).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from typing import Any

from graphql import FieldNode, OperationDefinitionNode
from starlette.types import Message, Receive, Scope, Send

from rujuk import metrics

logger = logging.getLogger("rujuk.access")

EXCHANGE = "rujuk.exchange"
REQUEST_ID_HEADER = b"x-request-id"
# Ids a proxy or a client would send (a UUID, a trace id): short, no spaces, nothing to escape.
SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# Operation labels per operation of a cached document (bounded: new texts clear it).
MAX_LABELS = 1024
MAX_LABEL_LENGTH = 100
_labels: dict[int, tuple[OperationDefinitionNode, str]] = {}


def new_request_id() -> str:
    """A fresh request id."""
    return os.urandom(8).hex()


class Exchange:
    """The observed state of one HTTP request, kept in its ASGI scope under EXCHANGE."""

    __slots__ = ("_send", "codes", "method", "operation", "path", "request_id", "started", "status")

    def __init__(self, scope: Scope, send: Send) -> None:
        self.started = time.perf_counter()
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.request_id = _request_id(scope)
        self.operation: OperationDefinitionNode | None = None
        self.codes: list[str] = []
        self.status = 500
        self._send = send

    async def send(self, message: Message) -> None:
        """The response's send, adding the X-Request-ID header."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message["headers"] = [
                *message.get("headers", ()),
                (REQUEST_ID_HEADER, self.request_id.encode()),
            ]
        await self._send(message)

    def errors_answered(self, processed: Mapping[str, Any]) -> None:
        """A response's formatted errors: each gets the request id; their codes are noted."""
        errors = processed.get("errors")
        if not errors:
            return
        for error in errors:
            # A copy: the extensions may be those of a cached validation error.
            extensions = {**(error.get("extensions") or {}), "requestId": self.request_id}
            error["extensions"] = extensions
            self.codes.append(str(extensions.get("code", "")))

    def finish(self) -> None:
        """The response is sent: count it (GraphQL requests) and log its line."""
        seconds = time.perf_counter() - self.started
        outcome = metrics.outcome(self.codes, self.status)
        operation = _label(self.operation)
        graphql = self.path == "/graphql"
        if graphql:
            metrics.record_request(operation, outcome, seconds)
            if self.codes:
                metrics.record_errors(self.codes)
        if logger.isEnabledFor(logging.INFO):
            fields: dict[str, Any] = {
                "requestId": self.request_id,
                "method": self.method,
                "path": self.path,
                "status": self.status,
                "durationMs": round(seconds * 1000, 2),
            }
            if graphql:
                fields["operation"] = operation
                fields["outcome"] = outcome
                if self.codes:
                    fields["errorCodes"] = self.codes
            # Made directly: logger.info would walk the stack for a caller nobody logs.
            logger.handle(
                logger.makeRecord(
                    logger.name,
                    logging.INFO,
                    __file__,
                    0,
                    "request",
                    (),
                    None,
                    extra={"fields": fields},
                )
            )


async def observed(scope: Scope, receive: Receive, send: Send, app: Any) -> None:
    """Run the app on one HTTP request as an Exchange."""
    exchange = scope[EXCHANGE] = Exchange(scope, send)
    try:
        await app(scope, receive, exchange.send)
    finally:
        # The server's send is a method of what holds the scope: left there, the exchange
        # would close a loop that only the garbage collector frees (every request, ten
        # objects), instead of being freed with the answer.
        del scope[EXCHANGE]
        exchange.finish()


def exchange_of(scope: Scope) -> Exchange | None:
    """The request's Exchange (None for a WebSocket)."""
    exchange: Exchange | None = scope.get(EXCHANGE)
    return exchange


def note_operation(context: Any, operation: OperationDefinitionNode | None) -> None:
    """The operation a GraphQL request runs (for its metrics and log line)."""
    exchange = getattr(context, "exchange", None)
    if exchange is not None:
        exchange.operation = operation


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if SANE_REQUEST_ID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return new_request_id()


def _label(operation: OperationDefinitionNode | None) -> str:
    """The operation's name, else its root fields joined by '+'."""
    if operation is None:
        return metrics.UNKNOWN
    cached = _labels.get(id(operation))
    if cached is not None and cached[0] is operation:
        return cached[1]
    label: str
    if operation.name is not None:
        label = operation.name.value
    else:
        selections = operation.selection_set.selections
        label = "+".join(s.name.value for s in selections if isinstance(s, FieldNode))
    label = label[:MAX_LABEL_LENGTH] or metrics.UNKNOWN
    if len(_labels) >= MAX_LABELS:
        _labels.clear()
    _labels[id(operation)] = (operation, label)
    return label
