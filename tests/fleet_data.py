"""Scenario-format instance objects for the fleet and emulator tests."""

from __future__ import annotations

from typing import Any


def instance(iid: str, health: str | None = "Healthy", zone: str = "1", **fields: Any) -> dict[str, Any]:
    """A healthy running instance with the health extension, as FORMAT.md writes one."""
    return {
        "instanceId": iid,
        "zone": zone,
        "provisioningState": "Succeeded",
        "powerState": "running",
        "health": health,
        "latestModelApplied": True,
        "protectionPolicy": {"protectFromScaleIn": False, "protectFromScaleSetActions": False},
        "extensions": [{"name": "HealthExtension", "status": "Succeeded", "message": ""}],
        **fields,
    }
