"""A throwaway certificate authority, so the emulator speaks real HTTPS on 127.0.0.1.

The Azure SDKs refuse to send a bearer token over plain HTTP, and the point of the emulator is
that the unmodified SDKs talk to it exactly as to ARM. So each emulator gets its own CA (made
with ``trustme``, never trusted system-wide) and a server certificate for ``127.0.0.1`` and
``localhost``; clients trust it through ``connection_verify=<ca_path>``.
"""

from __future__ import annotations

import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass
class LoopbackTls:
    context: ssl.SSLContext  # server side, holds the certificate
    ca_path: str  # PEM of the CA, for clients
    _directory: tempfile.TemporaryDirectory[str]

    def cleanup(self) -> None:
        self._directory.cleanup()


def loopback_tls() -> LoopbackTls:
    import trustme

    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    directory = tempfile.TemporaryDirectory(prefix="vmss-emulator-")
    ca_path = Path(directory.name) / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return LoopbackTls(context, str(ca_path), directory)
