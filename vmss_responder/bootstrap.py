"""Build a :class:`Responder` from settings: the one place the edges are chosen.

Azure Functions and ``serve`` read ``VMSS_RESPONDER_*`` settings from the environment and talk
to real ARM (DefaultAzureCredential / managed identity); ``serve --emulator`` and replay pass
an emulator target and a virtual or system clock. Nothing heavy is imported until first use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .clock import Clock, SystemClock
from .config import Settings, settings_from_env

DEFAULT_STORE = "sqlite://vmss-responder.sqlite"


@dataclass(slots=True)
class Edges:
    """What differs between Azure, ``serve`` and replay."""

    clock: Clock
    store_url: str
    arm_target: Any = None  # vmss_responder.azure.ArmTarget; None = real Azure


def build_responder(settings: Settings, edges: Edges, owner: str | None = None) -> Any:
    from .azure import ArmTarget, AzureClients
    from .notify.outbox import Outbox
    from .runner import Responder
    from .store import open_store

    store = open_store(edges.store_url)
    clients = AzureClients(edges.arm_target or ArmTarget(), edges.clock, settings)
    outbox = Outbox(store, settings, edges.clock)
    return Responder(settings, store, edges.clock, clients, outbox, owner=owner)


def from_environment(environ: Mapping[str, str] | None = None) -> Any:
    """The production responder: settings and store from the environment, real Azure, wall clock."""
    env = os.environ if environ is None else environ
    settings = settings_from_env(env)
    store_url = env.get("VMSS_RESPONDER_STORE_URL", DEFAULT_STORE)
    return build_responder(settings, Edges(SystemClock(), store_url))
