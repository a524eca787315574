"""The storage adapters against a real Azurite: ETags, content, and queue encoding."""

import base64
import json
from datetime import UTC, datetime

import pytest
from azure.storage.queue.aio import QueueClient

from shared.adapters.blob_storage import BlobContentStore
from shared.adapters.queue_storage import StorageEmailQueue
from shared.adapters.table_storage import TableHistoryStore, TableParameterStore, Tables
from shared.domain.delivery import RecipientResult, RecipientStatus
from shared.domain.email_ids import new_email_id
from shared.domain.history import AttachmentInfo, EmailRecord, FailureDetails, Status
from shared.ports import StaleWrite
from tests.support.records import an_email


def a_record() -> EmailRecord:
    """Every field a history entity stores, with as many recipients as a request may have."""
    now = datetime.now(UTC)
    return an_email(
        now,
        from_="Alice <alice@contoso.com>",
        to=tuple(f"user{i}@contoso.com" for i in range(500)),
        cc=("c@contoso.com",),
        bcc=("b@contoso.com",),
        subject="Grüße",
        size_bytes=1234,
        reference="CustTable/US-008",
        attachments=(AttachmentInfo("a.pdf", 10),),
        recipients=(RecipientResult("user0@contoso.com", RecipientStatus.REFUSED, "550 no"),),
        failure_details=FailureDetails("X", "550 no", now),
    )


async def test_history_round_trips_and_refuses_a_stale_write(storage: str) -> None:
    tables = Tables(storage)
    history = TableHistoryStore(tables)
    try:
        record = a_record()
        await history.add(record)
        found = await history.get(record.id)
        assert found is not None
        loaded, etag = found
        assert loaded == record
        sending = loaded.moved_to(Status.SENDING, datetime.now(UTC), claimed_by="m1")
        await history.replace(sending, etag)
        with pytest.raises(StaleWrite):
            await history.replace(sending.moved_to(Status.SENT, datetime.now(UTC)), etag)
        reread = await history.get(record.id)
        assert reread is not None and reread[0].status is Status.SENDING
        assert await history.get(new_email_id(datetime.now(UTC))) is None
    finally:
        await tables.aclose()


async def test_parameters_are_saved_only_over_what_was_read(storage: str) -> None:
    tables = Tables(storage)
    store = TableParameterStore(tables)
    try:
        assert await store.load() == ({}, None)
        await store.save({"batchProcessing": False}, None)
        document, etag = await store.load()
        assert document == {"batchProcessing": False}
        await store.save({"batchProcessing": True}, etag)
        with pytest.raises(StaleWrite):
            await store.save({"batchProcessing": False}, etag)
    finally:
        await tables.aclose()


async def test_content_is_stored_read_and_deleted(storage: str) -> None:
    content = BlobContentStore(storage)
    try:
        await content.put("id-1", b"MIME bytes")
        assert await content.get("id-1") == b"MIME bytes"
        await content.delete("id-1")
        assert await content.get("id-1") is None
        await content.delete("id-1")  # deleting twice is harmless
    finally:
        await content.aclose()


@pytest.mark.parametrize("encoding", ["base64", "none"])
async def test_queue_messages_are_encoded_as_host_json_says(storage: str, encoding: str) -> None:
    queue = StorageEmailQueue(storage, encoding=encoding)
    try:
        await queue.enqueue("email-test", {"id": "x"})
        assert await queue.depth("email-test") == 1
    finally:
        await queue.aclose()
    async with QueueClient.from_connection_string(storage, "email-test") as raw:
        message = await raw.receive_message()
    assert message is not None
    text = message.content
    decoded = base64.b64decode(text).decode() if encoding == "base64" else text
    assert json.loads(decoded) == {"id": "x"}
    if encoding == "none":
        assert text.startswith("{")


async def test_a_delayed_message_stays_invisible(storage: str) -> None:
    queue = StorageEmailQueue(storage, encoding="base64")
    try:
        await queue.enqueue("email-later", {"id": "y"}, delay_seconds=30)
    finally:
        await queue.aclose()
    async with QueueClient.from_connection_string(storage, "email-later") as raw:
        assert await raw.receive_message() is None
        assert (await raw.get_queue_properties()).approximate_message_count == 1
