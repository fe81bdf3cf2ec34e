"""One app instance of the multi-process tests: the Functions routes over HTTP, the sweep on a timer.

It is ``vmss-responder serve`` but pointed at a shared ARM emulator and a shared fast clock:
``serve --emulator`` starts an emulator of its own, and instances that must not act twice have to
see one fleet. The pieces are the product's own (``bootstrap.build_responder``, the ASGI app of
``handlers.asgi``, uvicorn), the settings come from ``VMSS_RESPONDER_*`` as in Azure.

    python -m tests.reliability.procs.app --port P --arm URL --arm-ca PEM --clock FILE --origin T --speed S --owner NAME
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import uvicorn

from handlers import runtime
from handlers.asgi import create_app
from tests.reliability.procs.fast_clock import StoryClock
from vmss_responder.azure import ArmTarget, StaticTokenCredential
from vmss_responder.bootstrap import Edges, build_responder
from vmss_responder.config import settings_from_env
from vmss_responder.durations import parse_timestamp
from vmss_responder.serve import API_KEY_ENV, STORE_URL_ENV


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--arm", required=True, help="the ARM emulator's base URL")
    parser.add_argument("--arm-ca", required=True, help="PEM of the emulator's CA")
    parser.add_argument("--clock", type=Path, required=True, help="the StoryClock file every process shares")
    parser.add_argument("--origin", type=parse_timestamp, required=True, help="the story's first instant")
    parser.add_argument("--speed", type=float, required=True, help="story seconds per wall second")
    parser.add_argument("--owner", required=True, help="lease owner name (the instance)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s {args.owner} %(name)s: %(message)s")

    clock = StoryClock(args.clock, args.origin, args.speed)
    settings = settings_from_env(os.environ)
    target = ArmTarget(args.arm, args.arm_ca, StaticTokenCredential(clock), logs_endpoint=args.arm)
    responder = build_responder(settings, Edges(clock, os.environ[STORE_URL_ENV], target), owner=args.owner)
    runtime.use(responder)
    # serve's timer fires every sweepInterval of wall time; on the fast clock that is story time.
    app = create_app(
        api_key=os.environ[API_KEY_ENV], sweep_interval=clock.wall_seconds(settings.sweep_interval)
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="on", access_log=False)


if __name__ == "__main__":
    main()
