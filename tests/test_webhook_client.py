"""The webhook client (aiohttp) against scripted receivers on loopback: the request it
sends, which connections it keeps alive, and what it makes of answers that are not HTTP,
of receivers that hang up or never answer, and of redirects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from rujuk.services.webhook_client import MAX_ANSWER_BYTES, AttemptFailed, WebhookClient
from rujuk.services.webhook_urls import Target, resolve


@dataclass
class Scripted:
    """Answers the n-th request with answers[n] (the last one from then on); notes each
    request as it arrived and how many connections were opened. close_after_answer ends
    each connection once answered, as a receiver whose keep-alive is over does."""

    answers: list[bytes]
    close_after_answer: bool = False
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answers[min(len(self.requests), len(self.answers)) - 1])
                await writer.drain()
                if self.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def scripted(*answers: bytes, close_after_answer: bool = False) -> AsyncIterator[Scripted]:
    receiver = Scripted(list(answers), close_after_answer)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    receiver.url = f"http://127.0.0.1:{port}/hooks/shop%20a?via=rujuk"
    async with server:
        yield receiver


OK_LENGTH = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@contextlib.asynccontextmanager
async def client(attempt_seconds: float = 5.0) -> AsyncIterator[WebhookClient]:
    webhooks = WebhookClient("rujuk-webhooks/1", attempt_seconds)
    try:
        yield webhooks
    finally:
        await webhooks.close()


async def post(webhooks: WebhookClient, url: str, body: bytes = b'{"type":"x"}') -> int:
    target = await resolve(url, allow_private=True)
    return await webhooks.post(target, {"webhook-id": "msg_1"}, body)


async def test_the_request_is_one_post_with_its_headers_and_body() -> None:
    async with client() as webhooks, scripted(OK_LENGTH) as receiver:
        # As resolve() makes it for https://shop.example/...: the address in the URL.
        target = Target(receiver.url, host_header="shop.example", server_name=None)
        assert await webhooks.post(target, {"webhook-id": "msg_1"}, b'{"type":"x"}') == 200
    head, body = receiver.requests[0].split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /hooks/shop%20a?via=rujuk HTTP/1.1"
    headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
    # The Host header names the URL's host, not the address connected to.
    assert headers[b"host"] == b"shop.example"
    assert headers[b"user-agent"] == b"rujuk-webhooks/1"
    assert headers[b"content-length"] == b"12"
    assert headers[b"webhook-id"] == b"msg_1"
    assert body == b'{"type":"x"}'


@pytest.mark.parametrize(
    "answer",
    [
        OK_LENGTH,
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2;x=y\r\nok\r\n3\r\n!!!\r\n0\r\nX-Trailer: 1\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ],
    ids=["content-length", "chunked", "no-content"],
)
async def test_a_complete_answer_keeps_its_connection_for_the_next(answer: bytes) -> None:
    async with client() as webhooks, scripted(answer) as receiver:
        first = await post(webhooks, receiver.url)
        assert await post(webhooks, receiver.url) == first
        assert 200 <= first < 300
        assert (len(receiver.requests), receiver.connections) == (2, 1)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        # Delimited by the end of the connection.
        b"HTTP/1.0 500 Oops\r\n\r\nsomething went wrong",
        # Longer than the client reads: the rest is not waited for.
        b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % (MAX_ANSWER_BYTES * 4)
        + b"x" * (MAX_ANSWER_BYTES + 1),
    ],
    ids=["connection-close", "until-closed", "too-long"],
)
async def test_an_answer_that_ends_its_connection_gets_a_new_one(answer: bytes) -> None:
    closes = b"HTTP/1.0" in answer
    async with client() as webhooks, scripted(answer, close_after_answer=closes) as receiver:
        assert await asyncio.wait_for(post(webhooks, receiver.url), 5) == 500
        assert await asyncio.wait_for(post(webhooks, receiver.url), 5) == 500
        assert (len(receiver.requests), receiver.connections) == (2, 2)


async def test_a_connection_the_receiver_closed_while_idle_is_not_an_error() -> None:
    async with client() as webhooks, scripted(OK_LENGTH, close_after_answer=True) as receiver:
        assert await post(webhooks, receiver.url) == 200
        await asyncio.sleep(0.05)
        assert await post(webhooks, receiver.url) == 200
        assert (len(receiver.requests), receiver.connections) == (2, 2)


async def test_a_redirect_is_an_answer_not_followed() -> None:
    answer = b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/\r\n"
    async with client() as webhooks, scripted(answer + b"Content-Length: 0\r\n\r\n") as receiver:
        assert await post(webhooks, receiver.url) == 307
        assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 2xx OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
async def test_an_answer_that_is_not_http_fails_the_attempt(answer: bytes) -> None:
    async with client() as webhooks, scripted(answer) as receiver:
        with pytest.raises(AttemptFailed):
            await asyncio.wait_for(post(webhooks, receiver.url), 5)


async def test_a_receiver_that_hangs_up_without_answering_fails_the_attempt() -> None:
    async with client() as webhooks, scripted(b"", close_after_answer=True) as receiver:
        with pytest.raises(AttemptFailed):
            await post(webhooks, receiver.url)


async def test_nothing_listening_fails_the_attempt() -> None:
    async with client() as webhooks:
        async with scripted(OK_LENGTH) as receiver:
            url = receiver.url
        with pytest.raises(AttemptFailed, match="ClientConnectorError"):
            await post(webhooks, url)


async def test_a_receiver_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, client(attempt_seconds=0.3) as webhooks:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(post(webhooks, f"http://127.0.0.1:{port}/"), 5)
