"""The Exchange transport as the composition root wires it: msgraph is imported on the first send.

A Functions worker that never sends through Exchange never pays for importing msgraph-sdk, kiota
and httpx (the README gives the figure); the first email through Exchange imports them off the
event loop, so other emails in flight keep moving, and builds one `GraphTransport` for the worker.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.domain.delivery import DeliveryResult
from shared.domain.graph_failures import GraphFailure, GraphFault, GraphStep, classify
from shared.domain.outgoing import OutgoingEmail
from shared.ports import SecretStore
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.adapters.graph import GraphTransport


class LazyGraphTransport:
    def __init__(
        self, settings: Settings, secrets: SecretStore, *, identity_options: Mapping[str, Any] | None = None
    ) -> None:
        self._settings = settings
        self._secrets = secrets
        self._identity_options = identity_options
        self._transport: GraphTransport | None = None
        self._lock = asyncio.Lock()

    async def send(self, email: OutgoingEmail, *, mailbox: str) -> DeliveryResult:
        try:
            transport = await self._loaded()
        except ImportError as error:  # an install without msgraph-sdk: the email says so, the worker lives on
            detail = f"msgraph-sdk could not be imported ({error}); install requirements.txt"
            return classify(GraphFailure(GraphStep.SIGN_IN, mailbox, fault=GraphFault.NOT_CONFIGURED, detail=detail))
        return await transport.send(email, mailbox=mailbox)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    async def _loaded(self) -> GraphTransport:
        async with self._lock:
            if self._transport is None:
                module = await asyncio.to_thread(importlib.import_module, "shared.adapters.graph")
                self._transport = module.GraphTransport(
                    self._settings, self._secrets, identity_options=self._identity_options
                )
            return self._transport
