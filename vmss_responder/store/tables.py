"""Azure Table Storage backend (production; Azurite in tests).

Entity layout: ``PartitionKey``/``RowKey`` are the record's keys; the value's JSON text is
split over properties ``d0, d1, …``; ``w`` is a random id of the write that produced the
entity. Azure counts a string property as two bytes per UTF-16 unit and caps each at 64 KiB
and the entity at 1 MiB, so the text goes into readable string chunks when that fits and into
UTF-8 binary chunks (one byte per byte) otherwise: every record ``base.encode`` admits
(<= 900 KiB) fits. Azurite does not enforce these limits, so they are computed here.

Retry hazards (azure-core retries POST on 500/503/504 and PUT on timeouts, see
azure-semantics §10) are resolved with the write id:

- an insert whose first attempt committed comes back as 409 from its own retry; on 409 the
  entity is read, and if its ``w`` is ours the insert succeeded after all;
- likewise a conditional replace whose first attempt committed comes back as 412.

What stays ambiguous: an insert or replace that committed and was then changed by another
writer before the re-read reports a loss (None / ConflictError); a delete whose first attempt
committed reports False (absent). Callers that must know who won put their own token in the
value and compare it with ``get()``.

Table names are case-insensitive on Azure (and Azurite); an optional prefix lets several
deployments share one account. Tables are created on first use in each process.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .base import ConflictError, Record, Store, StoreError, check_key, check_table, encode

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableServiceClient

STRING_UNITS = 32_000  # UTF-16 units per string property (Azure: 64 KiB = 32,768 units)
BINARY_BYTES = 64_000  # bytes per binary property (Azure: 64 KiB)
ENTITY_BYTES = 1_040_000  # by Azure's entity size formula (Azure: 1 MiB = 1,048,576)
MAX_PROPERTIES = 252  # user properties besides PartitionKey, RowKey, Timestamp
_PAGE = 1000  # Azure's maximum page size
_WRITE_ID = "w"
# Short waits and few retries: a Functions invocation has a budget, and a store call that
# hangs for the SDK default (300 s read, 10 retries) holds a worker for nothing.
_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 3,
    "retry_backoff_max": 8,
    "connection_timeout": 10,
    "read_timeout": 30,
}
# Only ETags the service issues; "*" would make a conditional write unconditional.
_ETAG = re.compile(r'W/"[^"]+"')
_SECRET = re.compile(r"(sig|AccountKey|SharedAccessSignature)=[^&;\s'\"]+", re.IGNORECASE)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def entity_size(partition: str, row: str, props: dict[str, str | bytes]) -> int:
    """Azure's size of an entity: 4 + keys at 2 B/unit + per property 8 + name + value."""
    size = 4 + 2 * (_utf16_units(partition) + _utf16_units(row))
    for name, value in props.items():
        body = 2 * _utf16_units(value) if isinstance(value, str) else len(value)
        size += 8 + 2 * len(name) + 4 + body
    return size


def layout(partition: str, row: str, text: str, write_id: str) -> dict[str, str | bytes]:
    """The properties holding ``text``: string chunks if the entity fits, else binary chunks."""
    # A code point is at most two UTF-16 units; halve the step only when the text has such.
    step = STRING_UNITS if _utf16_units(text) == len(text) else STRING_UNITS // 2
    chunks: list[str | bytes] = [text[i : i + step] for i in range(0, len(text), step)]
    props = _props(chunks, write_id)
    if entity_size(partition, row, props) > ENTITY_BYTES:
        data = text.encode()
        props = _props([data[i : i + BINARY_BYTES] for i in range(0, len(data), BINARY_BYTES)], write_id)
    size = entity_size(partition, row, props)
    if size > ENTITY_BYTES or len(props) > MAX_PROPERTIES:
        raise StoreError(f"record of {len(text.encode())} bytes does not fit a table entity ({size} bytes)")
    return props


def _props(chunks: list[str | bytes], write_id: str) -> dict[str, str | bytes]:
    return {_WRITE_ID: write_id, **{f"d{i}": chunk for i, chunk in enumerate(chunks)}}


def text_of(entity: dict[str, Any]) -> str:
    """Reassemble the JSON text written by :func:`layout`."""
    parts = []
    while f"d{len(parts)}" in entity:
        parts.append(entity[f"d{len(parts)}"])
    if not parts:
        raise StoreError("entity holds no record value (written by something else?)")
    return b"".join(parts).decode() if isinstance(parts[0], bytes) else "".join(parts)


def _upper_bound(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` (None: use no bound).

    Past U+FFFF, UTF-16 order (the service's) and code point order disagree; those prefixes
    get no bound and rely on the caller's ``startswith`` stop.
    """
    nxt = ord(prefix[-1]) + 1
    if nxt > 0xFFFF:
        return None
    return prefix[:-1] + chr(0xE000 if 0xD800 <= nxt <= 0xDFFF else nxt)


def _scrub(text: str) -> str:
    return _SECRET.sub(r"\1=***", text.splitlines()[0] if text else "")[:200]


def _credential(client_id: str | None) -> Any:
    """Managed identity in Azure; locally DefaultAzureCredential (az login, env, …)."""
    if client_id:
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=client_id)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


class TableStore(Store):
    """Store on Azure Table Storage through one shared ``TableServiceClient``."""

    def __init__(self, service: TableServiceClient, *, prefix: str = "") -> None:
        if prefix and not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", prefix):
            raise StoreError(f"invalid table prefix {prefix!r}: letters and digits, starting with a letter")
        parts = urlsplit(service.url)
        self._endpoint = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
        self._service = service
        self._prefix = prefix
        self._tables: dict[str, TableClient] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "") -> TableStore:
        """``tables:<connection string>`` or ``tables+mi:https://<account>.table.core.windows.net``.

        The managed-identity form takes ``?clientId=<guid>`` for a user-assigned identity;
        without it DefaultAzureCredential picks the identity (and developer logins locally).
        """
        from azure.data.tables import TableServiceClient

        if url.startswith("tables+mi:"):
            parts = urlsplit(url[len("tables+mi:") :])
            if parts.scheme != "https" or not parts.netloc:
                raise StoreError("tables+mi: needs an https://<account>.table.core.windows.net endpoint")
            client_id = parse_qs(parts.query).get("clientId", [None])[0]
            endpoint = f"https://{parts.netloc}{parts.path}"
            service = TableServiceClient(endpoint, credential=_credential(client_id), **_CLIENT_OPTIONS)
            return cls(service, prefix=prefix)
        if not url.startswith("tables:"):
            raise StoreError("a table store URL starts with tables: or tables+mi:")
        try:
            service = TableServiceClient.from_connection_string(url[len("tables:") :], **_CLIENT_OPTIONS)
        except (ValueError, KeyError):
            raise StoreError("malformed table storage connection string") from None
        return cls(service, prefix=prefix)

    def __repr__(self) -> str:
        return f"TableStore({self._endpoint!r}, prefix={self._prefix!r})"

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Map SDK errors to store errors whose text carries no secret (the chain is cut)."""
        from azure.core.exceptions import AzureError, HttpResponseError, ResourceModifiedError

        try:
            yield
        except ResourceModifiedError:
            raise ConflictError(f"{what} changed") from None
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise ConflictError(f"{what} changed") from None
            code = getattr(exc.error_code, "value", exc.error_code) or ""
            raise StoreError(f"table storage: {what}: HTTP {exc.status_code} {code}".rstrip()) from None
        except AzureError as exc:
            raise StoreError(
                f"table storage at {self._endpoint}: {what}: {type(exc).__name__}: {_scrub(str(exc))}"
            ) from None

    def _table(self, table: str) -> TableClient:
        """The client of a logical table; the table is created on first use in this process."""
        check_table(table)
        name = self._prefix + table
        check_table(name)
        key = name.lower()
        with self._lock:
            client = self._tables.get(key)
            if client is None:
                with self._errors(f"create table {name}"):
                    client = self._tables[key] = self._service.create_table_if_not_exists(name)
        return client

    def _read(self, client: TableClient, partition: str, row: str) -> Any | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return client.get_entity(partition, row)
        except ResourceNotFoundError:
            return None

    def _record(self, entity: Any) -> Record:
        return Record(
            entity["PartitionKey"], entity["RowKey"], json.loads(text_of(entity)), entity.metadata["etag"]
        )

    def _entity(self, partition: str, row: str, value: dict[str, Any]) -> dict[str, Any]:
        props = layout(partition, row, encode(value), uuid.uuid4().hex)
        return {"PartitionKey": partition, "RowKey": row, **props}

    def _own_write(self, client: TableClient, entity: dict[str, Any]) -> str | None:
        """The ETag of ``entity`` if the stored entity is that very write (a retried success)."""
        current = self._read(client, entity["PartitionKey"], entity["RowKey"])
        if current is not None and current.get(_WRITE_ID) == entity[_WRITE_ID]:
            return current.metadata["etag"]
        return None

    def insert(self, table: str, partition: str, row: str, value: dict[str, Any]) -> str | None:
        from azure.core.exceptions import ResourceExistsError

        check_key(partition, row)
        client = self._table(table)
        entity = self._entity(partition, row, value)
        with self._errors(f"insert {table}/{partition}/{row}"):
            try:
                return client.create_entity(entity)["etag"]
            except ResourceExistsError:
                return self._own_write(client, entity)

    def get(self, table: str, partition: str, row: str) -> Record | None:
        check_key(partition, row)
        client = self._table(table)
        with self._errors(f"get {table}/{partition}/{row}"):
            entity = self._read(client, partition, row)
        return None if entity is None else self._record(entity)

    def replace(self, table: str, partition: str, row: str, value: dict[str, Any], etag: str) -> str:
        from azure.core import MatchConditions
        from azure.core.exceptions import HttpResponseError
        from azure.data.tables import UpdateMode

        check_key(partition, row)
        client = self._table(table)
        entity = self._entity(partition, row, value)
        what = f"replace {table}/{partition}/{row}"
        if not _ETAG.fullmatch(etag):
            raise ConflictError(f"{what}: not an ETag of this store: {etag[:40]!r}")
        with self._errors(what):
            try:
                return client.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )["etag"]
            except HttpResponseError as exc:
                # 412: changed (or our own retried write); 404: vanished.
                if exc.status_code not in (404, 412):
                    raise
                mine = self._own_write(client, entity)
                if mine is None:
                    raise ConflictError(f"{what}: changed or vanished") from None
                return mine

    def upsert(self, table: str, partition: str, row: str, value: dict[str, Any]) -> str:
        from azure.data.tables import UpdateMode

        check_key(partition, row)
        client = self._table(table)
        entity = self._entity(partition, row, value)
        with self._errors(f"upsert {table}/{partition}/{row}"):
            return client.upsert_entity(entity, mode=UpdateMode.REPLACE)["etag"]

    def delete(self, table: str, partition: str, row: str, etag: str | None = None) -> bool:
        from azure.core import MatchConditions

        check_key(partition, row)
        client = self._table(table)
        what = f"delete {table}/{partition}/{row}"
        if etag is not None and not _ETAG.fullmatch(etag):
            with self._errors(what):
                if self._read(client, partition, row) is None:
                    return False
            raise ConflictError(f"{what}: not an ETag of this store: {etag[:40]!r}")
        statuses: list[int] = []  # the SDK hides 404 on delete; the hook sees every attempt
        condition = MatchConditions.Unconditionally if etag is None else MatchConditions.IfNotModified
        with self._errors(what):
            client.delete_entity(
                partition,
                row,
                etag=etag,
                match_condition=condition,
                raw_response_hook=lambda response: statuses.append(response.http_response.status_code),
            )
        return bool(statuses) and statuses[-1] != 404

    def query(self, table: str, partition: str, prefix: str = "") -> Iterator[Record]:
        check_key(partition, prefix or partition)  # an empty prefix is valid
        client = self._table(table)
        return self._query(client, f"query {table}/{partition}", partition, prefix)

    def _query(self, client: TableClient, what: str, partition: str, prefix: str) -> Iterator[Record]:
        filters, params = ["PartitionKey eq @pk"], {"pk": partition}
        if prefix:
            filters.append("RowKey ge @lo")
            params["lo"] = prefix
            upper = _upper_bound(prefix)
            if upper is not None:
                filters.append("RowKey lt @hi")
                params["hi"] = upper
        with self._errors(what):
            for entity in client.query_entities(
                " and ".join(filters), parameters=params, results_per_page=_PAGE
            ):
                if not entity["RowKey"].startswith(prefix):
                    return
                yield self._record(entity)

    def partitions(self, table: str) -> Iterator[str]:
        """Distinct partition keys: a scan of the whole table (keys only), for sweeps."""
        client = self._table(table)
        return self._partitions(client, f"list partitions of {table}")

    def _partitions(self, client: TableClient, what: str) -> Iterator[str]:
        last = None
        with self._errors(what):
            for entity in client.list_entities(select=["PartitionKey"], results_per_page=_PAGE):
                if entity["PartitionKey"] != last:
                    last = entity["PartitionKey"]
                    yield last

    def close(self) -> None:
        self._service.close()
