"""Turns a raw queue message into the `QueueMessage` a function receives.

With `messageEncoding: base64` (the default) the runtime base64-decodes the text; with `none`
the text itself is the body. A message that is not valid base64 under the default cannot be
handed to the function at all, and goes to the poison queue instead.
"""

from __future__ import annotations

import base64
import binascii

from azure.functions.queue import QueueMessage as FunctionQueueMessage
from azure.storage.queue import QueueMessage as StorageQueueMessage


class UndecodableMessage(ValueError):
    """The message text is not in the configured messageEncoding."""


def decode_body(text: str, encoding: str) -> bytes:
    if encoding == "none":
        return text.encode("utf-8")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise UndecodableMessage("the message is not valid base64 (messageEncoding)") from None


def function_message(message: StorageQueueMessage, body: bytes) -> FunctionQueueMessage:
    return FunctionQueueMessage(
        id=message.id,
        body=body,
        dequeue_count=message.dequeue_count,
        expiration_time=message.expires_on,
        insertion_time=message.inserted_on,
        time_next_visible=message.next_visible_on,
        pop_receipt=message.pop_receipt,
    )
