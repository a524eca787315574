"""Azure Blob Storage: each email's MIME message, too large for a queue message or an entity."""

from __future__ import annotations

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from shared.adapters.azure_errors import storage_errors
from shared.adapters.storage_transport import StorageTransport
from shared.ports import AlreadyExists

CONTAINER = "email-content"


class BlobContentStore:
    def __init__(self, connection_string: str) -> None:
        self._service = BlobServiceClient.from_connection_string(connection_string, transport=StorageTransport())
        self._container: ContainerClient | None = None

    async def _ready(self) -> ContainerClient:
        if self._container is None:
            container = self._service.get_container_client(CONTAINER)
            try:
                with storage_errors("creating the content container"):
                    await container.create_container()
            except AlreadyExists:
                pass
            self._container = container
        return self._container

    @staticmethod
    def _name(email_id: str) -> str:
        return f"{email_id}.eml"

    async def put(self, email_id: str, mime: bytes) -> None:
        container = await self._ready()
        with storage_errors(f"storing the content of {email_id}"):
            await container.upload_blob(
                self._name(email_id),
                mime,
                overwrite=True,
                content_settings=ContentSettings(content_type="message/rfc822"),
            )

    async def get(self, email_id: str) -> bytes | None:
        container = await self._ready()
        try:
            with storage_errors(f"reading the content of {email_id}"):
                download = await container.download_blob(self._name(email_id))
                return bytes(await download.readall())
        except ResourceNotFoundError:
            return None

    async def delete(self, email_id: str) -> None:
        container = await self._ready()
        try:
            with storage_errors(f"deleting the content of {email_id}"):
                await container.delete_blob(self._name(email_id))
        except ResourceNotFoundError:
            pass

    async def aclose(self) -> None:
        if self._container is not None:
            await self._container.close()
        await self._service.close()
