"""What only the Table Storage backend has: recovery from its retry hazards, error mapping
without secrets, URL forms and table-name prefixes (the entity layout: test_tables_layout.py)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from azure.data.tables import TableServiceClient

from tests.azurite import ACCOUNT_KEY, connection_string, free_port
from vmss_responder.store import ConflictError, StoreError
from vmss_responder.store.tables import TableStore

pytestmark = pytest.mark.azurite
P = "part"


HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}


class FaultProxy:
    """A reverse proxy to Azurite that lets chosen requests commit upstream, then answers 503.

    This is what a gateway timeout or ServerBusy after a committed write looks like to
    azure-core, which then retries the request.
    """

    def __init__(self, upstream_port: int) -> None:
        self.hide: dict[str, int] = {}  # method -> how many committed answers to replace by 503
        self.log: list[tuple[str, int]] = []  # (method, status the client saw)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                upstream.request(self.command, self.path, body, dict(self.headers))
                response = upstream.getresponse()
                payload, status = response.read(), response.status
                headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
                upstream.close()
                if proxy.hide.get(self.command):
                    proxy.hide[self.command] -= 1
                    status, headers, payload = 503, [("Content-Type", "application/json")], b"{}"
                proxy.log.append((self.command, status))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_MERGE = _forward

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxied(azurite: str) -> Iterator[tuple[TableStore, FaultProxy]]:
    upstream = urlsplit(dict(p.split("=", 1) for p in azurite.split(";") if p)["TableEndpoint"]).port
    proxy = FaultProxy(upstream)
    store = TableStore.from_url("tables:" + connection_string(proxy.port))
    yield store, proxy
    store.close()
    proxy.close()


def test_insert_whose_commit_was_answered_503_still_wins(
    proxied: tuple[TableStore, FaultProxy], table: str
) -> None:
    store, proxy = proxied
    store.get(table, P, "r")  # creates the table, so the next POST is the insert
    proxy.log.clear()
    proxy.hide["POST"] = 1
    etag = store.insert(table, P, "r", {"v": 1})
    # The retry met our own entity (409); the write id showed it was ours.
    assert proxy.log == [("POST", 503), ("POST", 409), ("GET", 200)]
    assert etag is not None and store.get(table, P, "r").etag == etag
    assert store.insert(table, P, "r", {"v": 2}) is None


def test_replace_whose_commit_was_answered_503_still_wins(
    proxied: tuple[TableStore, FaultProxy], table: str
) -> None:
    store, proxy = proxied
    etag = store.insert(table, P, "r", {"v": 1})
    proxy.log.clear()
    proxy.hide["PUT"] = 1
    new = store.replace(table, P, "r", {"v": 2}, etag)
    assert proxy.log == [("PUT", 503), ("PUT", 412), ("GET", 200)]
    assert store.get(table, P, "r").etag == new and store.get(table, P, "r").value == {"v": 2}
    with pytest.raises(ConflictError):
        store.replace(table, P, "r", {"v": 3}, etag)


def test_wrong_account_key_is_a_store_error_without_secrets(azurite: str, table: str) -> None:
    wrong_key = "d3Jvbmcta2V5LW5vdC10aGUtcmVhbC1vbmU="
    store = TableStore.from_url("tables:" + azurite.replace(ACCOUNT_KEY, wrong_key))
    with pytest.raises(StoreError, match="HTTP 403") as caught:
        store.insert(table, P, "r", {})
    assert wrong_key not in str(caught.value) and caught.value.__cause__ is None
    store.close()


def test_unreachable_service_is_a_store_error_without_secrets(table: str) -> None:
    service = TableServiceClient.from_connection_string(connection_string(free_port()), retry_total=0)
    store = TableStore(service)
    with pytest.raises(StoreError, match="ServiceRequestError") as caught:
        store.get(table, P, "r")
    assert ACCOUNT_KEY not in str(caught.value) and "127.0.0.1" in str(caught.value)
    store.close()


def test_repr_shows_the_endpoint_not_the_key(azurite: str) -> None:
    store = TableStore.from_url("tables:" + azurite)
    assert "127.0.0.1" in repr(store) and ACCOUNT_KEY not in repr(store)
    store.close()


def test_managed_identity_url() -> None:
    store = TableStore.from_url(
        "tables+mi:https://acct.table.core.windows.net?clientId=00000000-0000-0000-0000-000000000001",
        prefix="vr",
    )
    assert repr(store) == "TableStore('https://acct.table.core.windows.net', prefix='vr')"
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "tables+mi:http://acct.table.core.windows.net",
        "tables+mi:acct",
        "tables:not a connection string",
        "sql:x",
    ],
)
def test_bad_urls_are_store_errors(url: str) -> None:
    with pytest.raises(StoreError):
        TableStore.from_url(url)


def test_prefixes_keep_deployments_apart(azurite: str, table: str) -> None:
    one = TableStore.from_url("tables:" + azurite, prefix="one")
    two = TableStore.from_url("tables:" + azurite, prefix="two")
    one.insert(table, P, "r", {"who": "one"})
    assert two.get(table, P, "r") is None
    two.insert(table, P, "r", {"who": "two"})
    assert one.get(table, P, "r").value == {"who": "one"}
    with pytest.raises(StoreError, match="invalid table"):
        one.get("t" + "x" * 60, P, "r")  # valid alone, too long with the prefix
    with pytest.raises(StoreError, match="prefix"):
        TableStore.from_url("tables:" + azurite, prefix="1bad")
    one.close()
    two.close()
