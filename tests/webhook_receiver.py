"""A real HTTP receiver of webhooks on loopback (uvicorn), that can fail or be slow on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook

from tests.servers import free_port


@dataclass
class Received:
    """One request as the receiver got it."""

    headers: dict[str, str]
    body: str
    at: float

    def verified(self, secret: str) -> dict[str, Any]:
        """The JSON body, once the Standard Webhooks library has checked its signature."""
        payload: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return payload


@dataclass
class Receiver:
    """Answers `status` after `delay` seconds; the first `failures` requests get 500."""

    url: str = ""
    status: int = 200
    failures: int = 0
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    answered: list[Received] = field(default_factory=list)
    concurrent: int = 0
    max_concurrent: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        request = Received(headers, b"".join(chunks).decode(), time.monotonic())
        self.received.append(request)
        self.arrived.set()
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            status = self.status
            if self.failures > 0:
                self.failures -= 1
                status = 500
        finally:
            self.concurrent -= 1
        if 200 <= status < 300:
            self.answered.append(request)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def types(self) -> list[str]:
        """The event types answered with success, in arrival order."""
        return [_type(r.body) for r in self.answered]


def _type(body: str) -> str:
    kind: str = json.loads(body)["type"]
    return kind


@contextlib.asynccontextmanager
async def running_receiver(receiver: Receiver | None = None) -> AsyncIterator[Receiver]:
    """The receiver served on 127.0.0.1 until the block ends."""
    receiver = receiver or Receiver()
    port = free_port()
    config = uvicorn.Config(
        receiver,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started)
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task


async def eventually(check: Any, within: float = 10.0, state: Any = None) -> None:
    """Wait until check() is true (awaiting it when it is a coroutine function)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                "condition not met in time" + ("" if state is None else f": {state()}")
            )
        await asyncio.sleep(0.02)
