"""Azure Table Storage: parameters, users and email history, one table each."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from shared.adapters.azure_errors import storage_errors
from shared.adapters.storage_transport import StorageTransport
from shared.domain.delivery import RecipientResult, RecipientStatus
from shared.domain.email_ids import email_id_from_keys, storage_keys
from shared.domain.history import AttachmentInfo, AttemptLog, EmailRecord, FailureDetails, Status
from shared.domain.users import User

PARAMETERS_TABLE = "parameters"
USERS_TABLE = "users"
HISTORY_TABLE = "emailhistory"
_CHUNK = 30_000  # a string property holds at most 32K UTF-16 characters


class Tables:
    """One service client per worker; each table is created the first time it is used."""

    def __init__(self, connection_string: str) -> None:
        self._service = TableServiceClient.from_connection_string(connection_string, transport=StorageTransport())
        self._ready: dict[str, TableClient] = {}

    async def table(self, name: str) -> TableClient:
        client = self._ready.get(name)
        if client is None:
            with storage_errors(f"creating table {name}"):
                await self._service.create_table_if_not_exists(name)
            client = self._ready[name] = self._service.get_table_client(name)
        return client

    async def aclose(self) -> None:
        for client in self._ready.values():
            await client.close()
        await self._service.close()


class TableParameterStore:
    _partition, _row = "email", "parameters"

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def load(self) -> tuple[dict[str, object], str | None]:
        table = await self._tables.table(PARAMETERS_TABLE)
        try:
            with storage_errors("reading the Email parameters"):
                entity = await table.get_entity(partition_key=self._partition, row_key=self._row)
        except ResourceNotFoundError:
            return {}, None
        return json.loads(entity["document"]), entity.metadata["etag"]

    async def save(self, document: dict[str, object], etag: str | None) -> None:
        table = await self._tables.table(PARAMETERS_TABLE)
        entity = {"PartitionKey": self._partition, "RowKey": self._row, "document": json.dumps(document)}
        with storage_errors("saving the Email parameters"):
            if etag is None:
                await table.create_entity(entity)
            else:
                await table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )


class TableUserStore:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def get(self, user_id: str) -> User | None:
        table = await self._tables.table(USERS_TABLE)
        try:
            with storage_errors(f"reading user {user_id}"):
                entity = await table.get_entity(partition_key=user_id, row_key="user")
        except ResourceNotFoundError:
            return None
        return User(
            user_id=user_id,
            email=entity["email"],
            name=entity.get("name", ""),
            sender_email=entity.get("senderEmail"),
            email_provider_id=entity.get("emailProviderId"),
            workflow_notifications_in_email=bool(entity.get("workflowNotificationsInEmail", False)),
            last_used_provider=entity.get("lastUsedProvider"),
        )

    async def put(self, user: User) -> None:
        table = await self._tables.table(USERS_TABLE)
        entity = {
            "PartitionKey": user.user_id,
            "RowKey": "user",
            "email": user.email,
            "name": user.name,
            "senderEmail": user.sender_email,
            "emailProviderId": user.email_provider_id,
            "workflowNotificationsInEmail": user.workflow_notifications_in_email,
            "lastUsedProvider": user.last_used_provider,
        }
        with storage_errors(f"saving user {user.user_id}"):
            await table.upsert_entity({k: v for k, v in entity.items() if v is not None}, mode=UpdateMode.REPLACE)

    async def delete(self, user_id: str) -> bool:
        exists = await self.get(user_id) is not None
        table = await self._tables.table(USERS_TABLE)
        with storage_errors(f"deleting user {user_id}"):
            await table.delete_entity(partition_key=user_id, row_key="user")
        return exists


class TableHistoryStore:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add(self, record: EmailRecord) -> str:
        table = await self._tables.table(HISTORY_TABLE)
        with storage_errors(f"recording email {record.id}"):
            result = await table.create_entity(_to_entity(record))
        return str(result["etag"])

    async def get(self, email_id: str) -> tuple[EmailRecord, str] | None:
        partition, row = storage_keys(email_id)
        table = await self._tables.table(HISTORY_TABLE)
        try:
            with storage_errors(f"reading email {email_id}"):
                entity = await table.get_entity(partition_key=partition, row_key=row)
        except ResourceNotFoundError:
            return None
        return _from_entity(entity), str(entity.metadata["etag"])

    async def replace(self, record: EmailRecord, etag: str) -> str:
        table = await self._tables.table(HISTORY_TABLE)
        with storage_errors(f"updating email {record.id}"):
            result = await table.update_entity(
                _to_entity(record),
                mode=UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
        return str(result["etag"])

    async def delete(self, email_id: str) -> None:
        partition, row = storage_keys(email_id)
        table = await self._tables.table(HISTORY_TABLE)
        try:
            with storage_errors(f"deleting email {email_id}"):
                await table.delete_entity(partition_key=partition, row_key=row)
        except ResourceNotFoundError:
            pass


def _put_json(entity: dict[str, Any], name: str, value: Any) -> None:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    chunks = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)] or [""]
    entity[name] = chunks[0]
    for index, chunk in enumerate(chunks[1:], start=1):
        entity[f"{name}_{index}"] = chunk


def _get_json(entity: dict[str, Any], name: str, default: Any) -> Any:
    if name not in entity:
        return default
    parts, index = [entity[name]], 1
    while f"{name}_{index}" in entity:
        parts.append(entity[f"{name}_{index}"])
        index += 1
    return json.loads("".join(parts))


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(value: str | None) -> datetime | None:
    return None if not value else datetime.fromisoformat(value)


def _to_entity(record: EmailRecord) -> dict[str, Any]:
    partition, row = storage_keys(record.id)
    entity: dict[str, Any] = {
        "PartitionKey": partition,
        "RowKey": row,
        "status": str(record.status),
        "mode": record.mode,
        "provider": record.provider,
        "priority": record.priority,
        "user": record.user,
        "sender": record.sender,
        "senderRule": record.sender_rule,
        "from": record.from_,
        "subject": record.subject,
        "sizeBytes": record.size_bytes,
        "createdAt": record.created_at,
        "sentAt": record.sent_at,
        "attempts": record.attempts,
        "deferrals": record.deferrals,
        "nextAttemptAt": record.next_attempt_at,
        "lastFailureMessage": record.last_failure_message,
        "reference": record.reference,
        "templateId": record.template_id,
        "idempotencyKey": record.idempotency_key,
        "claimedBy": record.claimed_by,
        "claimedAt": record.claimed_at,
        "updatedAt": record.updated_at,
        "resentAt": record.resent_at,
    }
    entity = {k: v for k, v in entity.items() if v is not None}
    _put_json(entity, "to", list(record.to))
    _put_json(entity, "cc", list(record.cc))
    _put_json(entity, "bcc", list(record.bcc))
    _put_json(entity, "attachments", [[a.name, a.size_bytes] for a in record.attachments])
    _put_json(entity, "recipients", [[r.address, str(r.status), r.response] for r in record.recipients])
    _put_json(entity, "attemptLog", [[_stamp(a.at), a.outcome, a.response] for a in record.attempt_log])
    if record.failure_details is not None:
        d = record.failure_details
        _put_json(entity, "failureDetails", [d.code, d.provider_response, _stamp(d.at)])
    return entity


def record_from_entity(entity: dict[str, Any]) -> EmailRecord:
    """A whole history entity as a record, for the history queries (shared/adapters/history_queries.py)."""
    return _from_entity(entity)


def _from_entity(entity: dict[str, Any]) -> EmailRecord:
    details = _get_json(entity, "failureDetails", None)
    return EmailRecord(
        id=email_id_from_keys(entity["PartitionKey"], entity["RowKey"]),
        status=Status(entity["status"]),
        mode=entity["mode"],
        provider=entity["provider"],
        priority=entity.get("priority", "normal"),
        user=entity["user"],
        sender=entity["sender"],
        sender_rule=entity["senderRule"],
        from_=entity["from"],
        subject=entity.get("subject", ""),
        size_bytes=int(entity.get("sizeBytes", 0)),
        created_at=entity["createdAt"],
        sent_at=entity.get("sentAt"),
        attempts=int(entity.get("attempts", 0)),
        deferrals=int(entity.get("deferrals", 0)),
        next_attempt_at=entity.get("nextAttemptAt"),
        last_failure_message=entity.get("lastFailureMessage"),
        reference=entity.get("reference"),
        template_id=entity.get("templateId"),
        idempotency_key=entity.get("idempotencyKey"),
        claimed_by=entity.get("claimedBy"),
        claimed_at=entity.get("claimedAt"),
        updated_at=entity.get("updatedAt"),
        resent_at=entity.get("resentAt"),
        to=tuple(_get_json(entity, "to", [])),
        cc=tuple(_get_json(entity, "cc", [])),
        bcc=tuple(_get_json(entity, "bcc", [])),
        attachments=tuple(AttachmentInfo(n, s) for n, s in _get_json(entity, "attachments", [])),
        recipients=tuple(RecipientResult(a, RecipientStatus(s), r) for a, s, r in _get_json(entity, "recipients", [])),
        attempt_log=tuple(
            AttemptLog(_moment(at) or entity["createdAt"], o, r) for at, o, r in _get_json(entity, "attemptLog", [])
        ),
        failure_details=None
        if details is None
        else FailureDetails(details[0], details[1], _moment(details[2]) or entity["createdAt"]),
    )
