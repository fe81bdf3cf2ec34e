"""The periodic sweep (timer trigger in Azure, a background task in ``serve``).

It finishes what ingestion accepted but could not complete: pending deliveries, due
evaluations, action verification, notification retries. A failure propagates so the Functions
host logs the invocation as failed; the next tick simply tries again.
"""

from __future__ import annotations

import logging

log = logging.getLogger("vmss_responder.sweep")


def run(*, past_due: bool = False) -> dict[str, int]:
    from . import runtime

    if past_due:
        log.warning("the sweep is running late (the previous tick was missed)")
    stats = runtime.responder().sweep()
    log.info("sweep: %s", ", ".join(f"{k}={v}" for k, v in stats.items()))
    return stats
