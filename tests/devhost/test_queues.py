"""Queue triggers against a real Azurite, with the queue trigger's retry and poison rules."""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path

import azure.functions as func
import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.queue.aio import QueueClient

from tests.devhost.conftest import eventually, running, write_host_json

FAST = {"maxPollingInterval": "00:00:00.500", "visibilityTimeout": "00:00:00"}

Handler = Callable[[func.QueueMessage], Awaitable[None]]


@pytest.fixture(autouse=True)
def _storage_setting(storage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", storage)


def queue_app(handler: Handler, *, queue: str = "work", poison: Handler | None = None) -> func.FunctionApp:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name=queue, connection="AzureWebJobsStorage")
    async def consume(msg: func.QueueMessage) -> None:
        await handler(msg)

    if poison is not None:

        @app.queue_trigger(arg_name="msg", queue_name=f"{queue}-poison", connection="")
        async def consume_poison(msg: func.QueueMessage) -> None:
            await poison(msg)

    return app


async def send(storage: str, text: str, queue: str = "work") -> None:
    async with QueueClient.from_connection_string(storage, queue) as client:
        with suppress(ResourceExistsError):
            await client.create_queue()
        await client.send_message(text)


async def texts(storage: str, queue: str) -> list[str]:
    """Visible messages, left in place; none while the listener has not created the queue."""
    async with QueueClient.from_connection_string(storage, queue) as client:
        try:
            return [m.content for m in await client.peek_messages(max_messages=32)]
        except ResourceNotFoundError:
            return []


async def stored(storage: str, queue: str) -> int:
    """Messages in the queue, visible or not."""
    async with QueueClient.from_connection_string(storage, queue) as client:
        return (await client.get_queue_properties()).approximate_message_count


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_success_hands_over_the_decoded_message_and_deletes_it(storage: str, tmp_path: Path) -> None:
    received: list[func.QueueMessage] = []

    async def handler(msg: func.QueueMessage) -> None:
        received.append(msg)

    payload = b'\x00\xff{"emailId": "e-1"}'
    async with running(queue_app(handler), write_host_json(tmp_path, **FAST)):
        await send(storage, b64(payload))
        await eventually(lambda: bool(received), message="invocation")
        await eventually(lambda: _is_zero(stored(storage, "work")), message="deletion")
    message = received[0]
    assert message.get_body() == payload
    assert message.dequeue_count == 1
    assert isinstance(message.insertion_time, datetime) and message.pop_receipt
    assert len(received) == 1


async def _is_zero(count: Awaitable[int]) -> bool:
    return await count == 0


async def test_failures_retry_then_move_the_text_unchanged_to_poison(
    storage: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    async def handler(msg: func.QueueMessage) -> None:
        attempts.append(msg.dequeue_count)
        raise RuntimeError("provider down")

    text = b64(b"send me")
    app_dir = write_host_json(tmp_path, maxDequeueCount=3, **FAST)
    async with running(queue_app(handler), app_dir):
        await send(storage, text)
        await eventually(lambda: _has(texts(storage, "work-poison")), message="poison message")
        assert await texts(storage, "work-poison") == [text]
        assert await stored(storage, "work") == 0
    assert attempts == [1, 2, 3]
    assert "Message has reached MaxDequeueCount of 3" in caplog.text


async def _has(found: Awaitable[list[str]]) -> bool:
    return bool(await found)


async def test_failed_message_stays_invisible_for_the_visibility_timeout(storage: str, tmp_path: Path) -> None:
    seen: list[float] = []

    async def handler(msg: func.QueueMessage) -> None:
        seen.append(time.monotonic())
        raise RuntimeError("try later")

    app_dir = write_host_json(
        tmp_path, maxDequeueCount=2, visibilityTimeout="00:00:01", maxPollingInterval="00:00:00.200"
    )
    async with running(queue_app(handler), app_dir):
        await send(storage, b64(b"x"))
        await eventually(lambda: len(seen) == 2, message="second attempt")
    assert 0.8 <= seen[1] - seen[0] < 3


async def test_poison_trigger_reads_the_poisoned_message_with_the_same_encoding(storage: str, tmp_path: Path) -> None:
    poisoned: list[bytes] = []

    async def failing(msg: func.QueueMessage) -> None:
        raise RuntimeError("permanent")

    async def poison(msg: func.QueueMessage) -> None:
        poisoned.append(msg.get_body())

    app_dir = write_host_json(tmp_path, maxDequeueCount=1, **FAST)
    async with running(queue_app(failing, poison=poison), app_dir):
        await send(storage, b64("naïve ✉".encode()))
        await eventually(lambda: bool(poisoned), message="poison invocation")
    assert poisoned == ["naïve ✉".encode()]


async def test_encoding_none_passes_the_raw_text_as_utf8(storage: str, tmp_path: Path) -> None:
    received: list[bytes] = []

    async def handler(msg: func.QueueMessage) -> None:
        received.append(msg.get_body())

    text = '{"subject": "Grüße"}'
    async with running(queue_app(handler), write_host_json(tmp_path, messageEncoding="none", **FAST)):
        await send(storage, text)
        await eventually(lambda: bool(received), message="invocation")
    assert received == [text.encode("utf-8")]


async def test_message_that_is_not_base64_goes_to_poison_without_running(
    storage: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[bytes] = []

    async def handler(msg: func.QueueMessage) -> None:
        calls.append(msg.get_body())

    async with running(queue_app(handler), write_host_json(tmp_path, **FAST)):
        await send(storage, "{not base64}")
        await eventually(lambda: _has(texts(storage, "work-poison")), message="poison message")
    assert calls == []
    assert await texts(storage, "work-poison") == ["{not base64}"]
    assert any(r.levelno == logging.ERROR and "cannot be decoded" in r.message for r in caplog.records)


async def test_message_dequeued_too_often_already_is_poisoned_without_running(storage: str, tmp_path: Path) -> None:
    calls: list[int] = []

    async def handler(msg: func.QueueMessage) -> None:
        calls.append(msg.dequeue_count)

    await send(storage, b64(b"stuck"))
    async with QueueClient.from_connection_string(storage, "work") as client:
        for _ in range(2):
            message = await client.receive_message(visibility_timeout=30)
            assert message is not None
            await client.update_message(message, pop_receipt=message.pop_receipt, visibility_timeout=0)
    async with running(queue_app(handler), write_host_json(tmp_path, maxDequeueCount=2, **FAST)):
        await eventually(lambda: _has(texts(storage, "work-poison")), message="poison message")
    assert calls == []


async def test_batch_size_and_new_batch_threshold_bound_concurrency(storage: str, tmp_path: Path) -> None:
    running_now: list[asyncio.Future[None]] = []
    finished: list[int] = []

    async def handler(msg: func.QueueMessage) -> None:
        gate = asyncio.get_running_loop().create_future()
        running_now.append(gate)
        await gate
        running_now.remove(gate)
        finished.append(1)

    app_dir = write_host_json(tmp_path, batchSize=2, newBatchThreshold=1, **FAST)
    for number in range(6):
        await send(storage, b64(str(number).encode()))
    async with running(queue_app(handler), app_dir):
        await eventually(lambda: len(running_now) == 2, message="first batch")
        await asyncio.sleep(0.4)
        assert len(running_now) == 2, "a new batch while more than newBatchThreshold run"
        running_now[0].set_result(None)
        await eventually(lambda: len(running_now) == 3, message="second batch")
        await asyncio.sleep(0.4)
        assert len(running_now) == 3, "more than batchSize + newBatchThreshold at once"
        while len(finished) < 6:
            for gate in list(running_now):
                if not gate.done():
                    gate.set_result(None)
            await asyncio.sleep(0.05)


async def test_lease_is_renewed_while_a_long_invocation_runs(storage: str, tmp_path: Path) -> None:
    calls: list[int] = []
    release = asyncio.Event()

    async def handler(msg: func.QueueMessage) -> None:
        calls.append(msg.dequeue_count)
        await release.wait()

    app_dir = write_host_json(tmp_path, **FAST)
    async with running(queue_app(handler), app_dir, queue_lease=timedelta(seconds=2)):
        await send(storage, b64(b"long"))
        await eventually(lambda: bool(calls), message="invocation")
        await asyncio.sleep(3)
        assert await texts(storage, "work") == [], "the message became visible mid-invocation"
        release.set()
        await eventually(lambda: _is_zero(stored(storage, "work")), message="deletion")
    assert calls == [1]


async def test_host_keeps_running_while_storage_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support.azurite import free_port

    dead = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={b64(b'k')};QueueEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;"
    monkeypatch.setenv("AzureWebJobsStorage", dead)

    async def handler(msg: func.QueueMessage) -> None:
        raise AssertionError("no message can arrive")

    async with running(queue_app(handler), write_host_json(tmp_path, **FAST)):
        await eventually(lambda: "storage call failed" in caplog.text, within=15, message="warning")
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
