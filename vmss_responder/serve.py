"""``vmss-responder serve``: the Functions HTTP routes on a local server, with the sweep on a timer.

Against real Azure by default (``DefaultAzureCredential``, settings from ``VMSS_RESPONDER_*``),
or against the ARM emulator with ``--emulator SCENARIO.json``: the scenario's fleet is served on
the system clock, the scopes are its subscription, and its ``config`` applies (the timeline is
not played: send the deliveries yourself). Requests need the key in ``VMSS_RESPONDER_API_KEY``,
sent as in Azure (``x-functions-key`` header or ``?code=``). Without a key the server refuses to
listen on anything but loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

log = logging.getLogger("vmss_responder.serve")

API_KEY_ENV = "VMSS_RESPONDER_API_KEY"
STORE_URL_ENV = "VMSS_RESPONDER_STORE_URL"


class ServeError(Exception):
    """A reason not to start, for the operator."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=7071, help="port (default 7071, as func start; 0 picks a free one)"
    )
    parser.add_argument(
        "--emulator", metavar="SCENARIO.json", help="serve this scenario's fleet from the ARM emulator"
    )
    parser.add_argument(
        "--store", metavar="URL", help=f"store URL (default ${STORE_URL_ENV} or a SQLite file)"
    )


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run_serve(args.host, args.port, emulator=args.emulator, store_url=args.store)
    except ServeError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2


def run_serve(host: str, port: int, emulator: str | None = None, store_url: str | None = None) -> int:
    import uvicorn

    from handlers import runtime
    from handlers.asgi import create_app

    api_key = os.environ.get(API_KEY_ENV) or None
    if api_key is None:
        if not is_loopback(host):
            raise ServeError(f"refusing to listen on {host} without a key: set {API_KEY_ENV}")
        log.warning("%s is not set: the API is open to anything on this machine", API_KEY_ENV)
    _exit_cleanly_on_sigterm()
    with _responder(emulator, store_url) as (responder, where):
        runtime.use(responder)
        try:
            app = create_app(
                api_key=api_key, sweep_interval=responder.settings.sweep_interval.total_seconds()
            )
            # uvicorn's access log prints the query string, where Azure callers put the function
            # key (?code=): the app logs each request itself, path and status only. uvicorn's own
            # lines go through the root logger too (log_config=None): one format, all on stderr.
            config = uvicorn.Config(
                app, host=host, port=port, log_level="info", log_config=None, lifespan="on", access_log=False
            )
            server = uvicorn.Server(config)
            try:
                sock = config.bind_socket()
            except SystemExit:  # uvicorn reports the bind error itself and exits
                raise ServeError(f"cannot listen on {host}:{port}") from None
            # asyncio sets TCP_NODELAY only on sockets it creates (proto IPPROTO_TCP); uvicorn's has
            # proto 0, so without this every response waits ~40 ms for a delayed ACK (Nagle). Accepted
            # connections inherit the option from the listening socket.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.listen(
                config.backlog
            )  # connect from now on: the address below is announced before uvicorn starts
            bound_host, bound_port = sock.getsockname()[:2]
            log.info(
                "serving on http://%s:%d/api/ (%s; store %s)",
                _url_host(bound_host),
                bound_port,
                where,
                responder.store,
            )
            server.run(sockets=[sock])
        finally:
            runtime.use(None)
            responder.clients.close()
            responder.store.close()
    return 0


def _exit_cleanly_on_sigterm() -> None:
    """Stop on SIGTERM (what service managers send) through the ``finally`` blocks.

    uvicorn shuts down gracefully on SIGTERM, then re-raises it under the handler it found; with
    the default one the process dies there, before the store is closed and the emulator's report
    is logged. Exiting instead unwinds the stack, so serve stops the same way on SIGTERM and Ctrl-C.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit)


def _exit(signum: int, frame: Any) -> None:
    raise SystemExit(0)


@contextlib.contextmanager
def _responder(emulator: str | None, store_url: str | None) -> Iterator[tuple[Any, str]]:
    from .bootstrap import DEFAULT_STORE, Edges, build_responder
    from .clock import SystemClock
    from .config import SettingsError, settings_from_env

    clock = SystemClock()
    url = store_url or os.environ.get(STORE_URL_ENV) or DEFAULT_STORE
    try:
        settings = settings_from_env(os.environ)
    except SettingsError as exc:
        raise ServeError(str(exc)) from None
    if emulator is None:
        if not settings.scopes:
            log.warning(
                "no scopes configured (VMSS_RESPONDER_SCOPES): every payload will be rejected as out of scope"
            )
        yield build_responder(settings, Edges(clock, url)), "real Azure"
        return
    from .azure import ArmTarget, StaticTokenCredential
    from .sim.emulator import ArmEmulator
    from .sim.fleet import Fleet
    from .sim.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(emulator)
        settings = settings.with_overrides(
            {"scopes": [f"/subscriptions/{scenario.subscription_id}"], **scenario.config}
        )
    except (ScenarioError, SettingsError) as exc:
        raise ServeError(f"{emulator}: {exc}") from None
    fleet = Fleet.from_spec(scenario.fleet, clock.now())
    with ArmEmulator(fleet, clock) as arm:
        settings = settings.with_overrides({"workspaceId": arm.workspace_id})
        target = ArmTarget(
            arm.base_url, arm.ca_path, StaticTokenCredential(clock), logs_endpoint=arm.base_url
        )
        try:
            yield (
                build_responder(settings, Edges(clock, url, target)),
                f"ARM emulator {arm.base_url} serving {scenario.name}",
            )
        finally:
            _report_arm_calls(arm)


def _report_arm_calls(arm: Any) -> None:
    """What the responder asked of the emulated control plane this session, when serve stops:
    the counts, then each distinct request (method and path) once with how often."""
    calls = Counter((r.method, r.path) for r in arm.requests)
    counts = ", ".join(f"{n} {kind}" for kind, n in arm.counts().items())
    log.info("ARM emulator served %d requests (%s)", sum(calls.values()), counts)
    for (method, path), n in sorted(calls.items()):
        log.info("ARM emulator request: %s %s x%d", method, path, n)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="vmss-responder serve", description=__doc__)
    add_arguments(_parser)
    sys.exit(main(_parser.parse_args()))
