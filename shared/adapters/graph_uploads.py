"""Uploading one large attachment into an Outlook upload session, chunk by chunk.

The upload URL is pre-authenticated: the chunks go without an Authorization header, on a plain
httpx client, not through the Graph SDK's pipeline. Each PUT carries at most `CHUNK_BYTES`
with its `Content-Range`; the session answers where the next chunk must start
(`nextExpectedRanges`, a single "{start}" for Outlook), and the next chunk starts exactly there.
A chunk whose answer was lost or was a 5xx is sent again from where the session says it stands
(asked with a GET, or else from the last offset it gave), a few times, before the upload is
given up. msgraph-core's LargeFileUploadTask is not used: it logs and swallows failed chunks.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

# Outlook takes up to 4 MB a request; 12 × 320 KiB stays under it and on the 320 KiB grid that
# other upload sessions require.
CHUNK_BYTES = 12 * 320 * 1024
_TRIES = 3  # sending the same chunk; any progress starts the count again


class UploadIncomplete(Exception):
    """The session stopped taking bytes; the email is not sent, and may be tried again."""


async def upload(http: httpx.AsyncClient, upload_url: str, content: bytes, next_expected: Sequence[str] | None) -> None:
    """PUTs `content` from the offset the session expects until the session has all of it.

    Raises httpx.HTTPStatusError for a refusal (4xx, or a 5xx that did not pass), httpx's
    transport errors when the session stayed unreachable, and UploadIncomplete otherwise.
    """
    size = len(content)
    offset = _start(next_expected)
    tries = 0
    while offset < size:
        end = min(offset + CHUNK_BYTES, size) - 1
        headers = {"Content-Range": f"bytes {offset}-{end}/{size}", "Content-Type": "application/octet-stream"}
        try:
            response = await http.put(upload_url, content=content[offset : end + 1], headers=headers)
        except httpx.TransportError:
            tries += 1
            if tries >= _TRIES:
                raise
            offset = await _where(http, upload_url, offset)
            continue
        if response.status_code >= 500 or response.status_code == 429:
            tries += 1
            if tries >= _TRIES:
                response.raise_for_status()
            offset = await _where(http, upload_url, offset)
            continue
        response.raise_for_status()
        ranges = _ranges(response)
        if response.status_code == 201 or (not ranges and end + 1 >= size):
            return  # 201 Created: the attachment is on the draft
        expected = _start(ranges, end + 1)
        if expected <= offset:
            tries += 1
            if tries >= _TRIES:
                raise UploadIncomplete(f"the upload session kept asking for byte {expected} of {size}")
        else:
            tries = 0
        offset = expected


async def _where(http: httpx.AsyncClient, upload_url: str, fallback: int) -> int:
    """Where the session stands after a lost or failed chunk; `fallback` when it will not say."""
    try:
        response = await http.get(upload_url)
    except httpx.TransportError:
        return fallback
    if response.status_code != 200:
        return fallback
    return _start(_ranges(response), fallback)


def _ranges(response: httpx.Response) -> list[str]:
    try:
        ranges = response.json().get("nextExpectedRanges")
    except (ValueError, AttributeError):
        return []
    return [str(r) for r in ranges] if isinstance(ranges, list) else []


def _start(ranges: Sequence[str] | None, default: int = 0) -> int:
    """The first missing byte: Outlook says "{start}", OneDrive-style sessions "{start}-{end}"."""
    if not ranges:
        return default
    head = str(ranges[0]).split("-", 1)[0].strip()
    return int(head) if head.isdigit() else default
