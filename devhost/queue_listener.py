"""Runs one queue-triggered function against its queue, with the queue trigger's semantics.

- Up to batchSize messages are received at once, each leased (invisible) for `lease` — ten
  minutes on Azure — and renewed at half-time while the function runs. A new batch is
  fetched once no more than newBatchThreshold are still running, so at most
  batchSize + newBatchThreshold invocations run at once, as the runtime documents.
- An empty queue is polled less and less often: from 100 ms, doubling (±20 %) up to
  maxPollingInterval, and back to 100 ms as soon as a message turns up.
- Success deletes the message. A failure makes it visible again after visibilityTimeout;
  the failure at maxDequeueCount copies its text unchanged to `<queue>-poison` and deletes
  it. A message that cannot be decoded, or was dequeued more often than allowed (its host
  died mid-invocation), goes to the poison queue without running.
- Storage errors are logged and retried with the same back-off; they never stop the host.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient

from devhost.catalog import QueueFunction
from devhost.host_config import QueueOptions
from devhost.invoker import InvocationFailed, Invoker
from devhost.leased_message import STORAGE_ERRORS, LeasedMessage
from devhost.queue_messages import UndecodableMessage, decode_body, function_message

log = logging.getLogger("devhost.queues")

DEFAULT_LEASE = timedelta(minutes=10)
MIN_POLLING_SECONDS = 0.1
POLL_STOP_SECONDS = 1.0


class QueueListener:
    def __init__(
        self,
        function: QueueFunction,
        *,
        queue: QueueClient,
        poison_queue: QueueClient,
        options: QueueOptions,
        invoker: Invoker,
        lease: timedelta = DEFAULT_LEASE,
        on_poisoned: Callable[[], None] | None = None,
    ) -> None:
        self._function = function
        self._queue = queue
        self._poison_queue = poison_queue
        self._options = options
        self._invoker = invoker
        self._lease_seconds = max(1, round(lease.total_seconds()))
        self._visibility_seconds = round(options.visibility_timeout.total_seconds())
        self._max_delay = max(MIN_POLLING_SECONDS, options.max_polling_interval.total_seconds())
        self._on_poisoned = on_poisoned
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._reachable = True
        self._in_flight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def queue_name(self) -> str:
        return self._queue.queue_name

    @property
    def function(self) -> QueueFunction:
        return self._function

    async def start(self) -> None:
        self._task = asyncio.create_task(self._poll(), name=f"devhost queue {self.queue_name}")

    def wake(self) -> None:
        """Poll now: a message was just added here (the runtime does this for poison queues)."""
        self._wakeup.set()

    async def stop(self, *, grace: float) -> None:
        """Stops polling, lets running invocations finish for `grace` seconds, cancels the rest.

        A cancelled invocation's message is released, so it runs again on the next start. A
        poll still waiting on storage after a second is cancelled: whatever it received
        reappears when the lease ends.
        """
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            await _finish({self._task}, within=min(grace, POLL_STOP_SECONDS))
        await _finish(set(self._in_flight), within=grace)

    async def _poll(self) -> None:
        delay, prepared = MIN_POLLING_SECONDS, False
        while not self._stopping:
            try:
                if not prepared:
                    await self._create_queues()
                    prepared = True
                if len(self._in_flight) > self._options.new_batch_threshold:
                    await self._pause(None)
                    continue
                messages = await self._receive()
                self._note_reachable()
            except Exception as error:
                self._note_unreachable(error, delay)
                await self._pause(delay)
                delay = min(delay * 2, self._max_delay)
                continue
            if self._stopping:
                for message in messages:
                    await self._lease(message).release(0)
                return
            if messages:
                delay = MIN_POLLING_SECONDS
                for message in messages:
                    self._spawn(message)
                continue
            await self._pause(min(self._max_delay, delay * random.uniform(0.8, 1.2)))
            delay = min(delay * 2, self._max_delay)

    async def _create_queues(self) -> None:
        for client in (self._queue, self._poison_queue):
            with suppress(ResourceExistsError):
                await client.create_queue()

    async def _receive(self) -> list[QueueMessage]:
        pages = self._queue.receive_messages(
            messages_per_page=self._options.batch_size, visibility_timeout=self._lease_seconds
        ).by_page()
        try:
            page = await anext(pages)
        except StopAsyncIteration:
            return []
        return [message async for message in page]

    async def _pause(self, seconds: float | None) -> None:
        with suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()
        self._wakeup.clear()

    def _lease(self, message: QueueMessage) -> LeasedMessage:
        return LeasedMessage(
            message,
            queue=self._queue,
            poison_queue=self._poison_queue,
            lease_seconds=self._lease_seconds,
        )

    def _spawn(self, message: QueueMessage) -> None:
        task = asyncio.create_task(self._process(self._lease(message)), name=f"message {message.id}")
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wakeup.set()

    async def _process(self, leased: LeasedMessage) -> None:
        message, limit = leased.message, self._options.max_dequeue_count
        dequeue_count = message.dequeue_count or 1
        if dequeue_count > limit:
            log.warning(
                "Message %s on '%s' was dequeued %d times, over maxDequeueCount %d (an earlier "
                "invocation never finished): moving it to '%s' without running it",
                message.id,
                self.queue_name,
                dequeue_count,
                limit,
                self._poison_queue.queue_name,
            )
            await self._poison(leased)
            return
        try:
            body = decode_body(message.content or "", self._options.message_encoding)
        except UndecodableMessage as error:
            log.error(
                "Message %s on '%s' cannot be decoded (%s): moving it to '%s'",
                message.id,
                self.queue_name,
                error,
                self._poison_queue.queue_name,
            )
            await self._poison(leased)
            return
        try:
            succeeded = await self._invoke(leased, body)
        except asyncio.CancelledError:
            await asyncio.shield(leased.release(self._visibility_seconds))
            raise
        if succeeded:
            await leased.delete()
        elif dequeue_count >= limit:
            log.warning(
                "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
                limit,
                self._poison_queue.queue_name,
            )
            await self._poison(leased)
        else:
            await leased.release(self._visibility_seconds)

    async def _invoke(self, leased: LeasedMessage, body: bytes) -> bool:
        message = leased.message
        finished = asyncio.Event()
        renewal = asyncio.create_task(leased.keep_leased(finished))
        reason = (
            f"New queue message detected on '{self.queue_name}' (Id={message.id}, DequeueCount={message.dequeue_count})"
        )
        try:
            await self._invoker.invoke(self._function, function_message(message, body), reason=reason)
            return True
        except InvocationFailed:
            return False
        finally:
            finished.set()
            await renewal

    async def _poison(self, leased: LeasedMessage) -> None:
        if await leased.poison() and self._on_poisoned is not None:
            self._on_poisoned()

    def _note_reachable(self) -> None:
        if not self._reachable:
            log.info("Queue '%s' is reachable again", self.queue_name)
            self._reachable = True

    def _note_unreachable(self, error: Exception, delay: float) -> None:
        unexpected = not isinstance(error, STORAGE_ERRORS)
        level = logging.WARNING if self._reachable or unexpected else logging.DEBUG
        log.log(
            level,
            "Queue '%s': storage call failed (%s: %s); retrying in %.1f s",
            self.queue_name,
            type(error).__name__,
            error,
            delay,
            exc_info=unexpected,
        )
        self._reachable = False


async def _finish(tasks: set[asyncio.Task[None]], *, within: float) -> None:
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=within)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
