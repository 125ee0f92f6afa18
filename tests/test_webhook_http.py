"""The webhook sender's HTTP/1.1 against scripted receivers on loopback: every way an answer
may be framed, which connections are kept alive, and answers that are not HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from rujuk.services.webhook_http import MAX_ANSWER_BYTES, AnswerError, WebhookSender
from rujuk.services.webhook_urls import resolve


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


async def post(sender: WebhookSender, url: str, body: bytes = b'{"type":"x"}') -> int:
    target = await resolve(url, allow_private=True)
    return await sender.post(target, {"webhook-id": "msg_1"}, body)


async def test_the_request_is_one_post_with_its_headers_and_body() -> None:
    sender = WebhookSender("rujuk-webhooks/1")
    async with scripted(OK_LENGTH) as receiver:
        assert await post(sender, receiver.url) == 200
    await sender.close()
    head, body = receiver.requests[0].split(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /hooks/shop%20a?via=rujuk HTTP/1.1"
    assert set(lines[1:]) == {
        b"host: " + receiver.url.split("/")[2].encode(),
        b"user-agent: rujuk-webhooks/1",
        b"content-length: 12",
        b"webhook-id: msg_1",
    }
    assert body == b'{"type":"x"}'


@pytest.mark.parametrize(
    "answer",
    [
        OK_LENGTH,
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2;x=y\r\nok\r\n3\r\n!!!\r\n0\r\nX-Trailer: 1\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    ],
    ids=["content-length", "chunked", "no-content", "interim"],
)
async def test_a_complete_answer_keeps_its_connection_for_the_next(answer: bytes) -> None:
    sender = WebhookSender("t")
    async with scripted(answer) as receiver:
        first = await post(sender, receiver.url)
        assert await post(sender, receiver.url) == first
        assert 200 <= first < 300
        assert (len(receiver.requests), receiver.connections) == (2, 1)
    await sender.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
        # Delimited by the end of the connection.
        b"HTTP/1.0 500 Oops\r\n\r\nsomething went wrong",
        # Longer than the sender reads: the rest is not waited for.
        b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % (MAX_ANSWER_BYTES + 1),
        b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % (MAX_ANSWER_BYTES + 1)
        + b"x" * (MAX_ANSWER_BYTES + 1),
    ],
    ids=["connection-close", "until-closed", "too-long", "too-long-chunked"],
)
async def test_an_answer_that_ends_its_connection_gets_a_new_one(answer: bytes) -> None:
    sender = WebhookSender("t")
    async with scripted(answer, close_after_answer=b"HTTP/1.0" in answer) as receiver:
        assert await asyncio.wait_for(post(sender, receiver.url), 5) == 500
        assert await asyncio.wait_for(post(sender, receiver.url), 5) == 500
        assert (len(receiver.requests), receiver.connections) == (2, 2)
    await sender.close()


async def test_a_connection_the_receiver_closed_while_idle_is_not_an_error() -> None:
    sender = WebhookSender("t")
    async with scripted(OK_LENGTH, close_after_answer=True) as receiver:
        assert await post(sender, receiver.url) == 200
        # The receiver's close may or may not have arrived yet: either way, a new connection.
        assert await post(sender, receiver.url) == 200
        await asyncio.sleep(0.05)
        assert await post(sender, receiver.url) == 200
        assert (len(receiver.requests), receiver.connections) == (3, 3)
    await sender.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 2xx OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
async def test_an_answer_that_is_not_http_is_refused(answer: bytes) -> None:
    sender = WebhookSender("t")
    async with scripted(answer) as receiver:
        with pytest.raises(AnswerError):
            await post(sender, receiver.url)
    await sender.close()


async def test_a_receiver_that_hangs_up_without_answering_fails_the_attempt() -> None:
    sender = WebhookSender("t")
    async with scripted(b"", close_after_answer=True) as receiver:
        with pytest.raises(asyncio.IncompleteReadError):
            await post(sender, receiver.url)
    await sender.close()


async def test_nothing_listening_is_a_connection_error() -> None:
    sender = WebhookSender("t")
    async with scripted(OK_LENGTH) as receiver:
        url = receiver.url
    with pytest.raises(ConnectionRefusedError):
        await post(sender, url)
    await sender.close()
