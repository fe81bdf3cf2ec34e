"""Settings, with the names the scenario format and the app settings use.

Every setting has a documented camelCase name (``allowedActions``) used by scenario ``config``
blocks and JSON, and an environment variable ``VMSS_RESPONDER_<SNAKE_CASE>`` used by the
Functions app and ``serve``. Durations are ISO 8601 (``PT15M``). Invalid settings fail at
start-up with the setting's name in the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from .durations import parse_duration
from .identity import is_scope

ActionName = Literal[
    "resume_repairs", "restart_instance", "reimage_instance", "replace_instance", "run_command"
]
ACTION_NAMES: tuple[str, ...] = (
    "resume_repairs",
    "restart_instance",
    "reimage_instance",
    "replace_instance",
    "run_command",
)

Duration = Annotated[timedelta, BeforeValidator(lambda v: parse_duration(v) if isinstance(v, str) else v)]


def _split_list(value: object) -> object:
    """Environment variables carry lists as JSON arrays or comma-separated text."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


StrList = Annotated[tuple[str, ...], BeforeValidator(_split_list)]


class SettingsError(ValueError):
    """Invalid settings; the message names every offending setting."""


class Settings(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    # --- what the responder may do -------------------------------------------------------
    mode: Literal["observe", "act"] = "observe"
    allowed_actions: Annotated[tuple[ActionName, ...], BeforeValidator(_split_list)] = ("resume_repairs",)
    scopes: StrList = ()
    workspace_id: str | None = None
    run_command_script: str = "health-probe-diagnostics"

    # --- correlation --------------------------------------------------------------------
    settle_period: Duration = timedelta(minutes=15)
    hold_period: Duration = timedelta(minutes=10)
    operation_max_duration: Duration = timedelta(minutes=20)
    activity_log_lookback: Duration = timedelta(minutes=60)
    flap_window: Duration = timedelta(minutes=30)
    flap_reversals: int = Field(2, ge=1)

    # --- diagnosis and guardrails -------------------------------------------------------
    probe_misconfigured_fraction: float = Field(0.5, gt=0, le=1)
    zone_concentration_min: int = Field(2, ge=2)
    resume_budget: int = Field(2, ge=0)
    resume_budget_window: Duration = timedelta(hours=24)
    resume_backoff: Duration = timedelta(minutes=30)
    instance_action_budget: int = Field(2, ge=0)
    instance_action_window: Duration = timedelta(hours=24)
    repair_wait_margin: Duration = timedelta(minutes=10)

    # --- timing -------------------------------------------------------------------------
    sweep_interval: Duration = timedelta(minutes=1)
    recheck_interval: Duration = timedelta(minutes=10)
    verify_interval: Duration = timedelta(minutes=5)
    verify_timeout: Duration = timedelta(minutes=20)
    max_retry_after: Duration = timedelta(seconds=20)
    dedup_retention: Duration = timedelta(hours=48)
    lease_duration: Duration = timedelta(minutes=5)

    # --- notifications ------------------------------------------------------------------
    teams_webhook_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    pagerduty_routing_key: str | None = None
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    digest_threshold: int = Field(5, ge=2)
    digest_window: Duration = timedelta(minutes=5)
    notify_max_attempts: int = Field(48, ge=1)
    notify_backoff_max: Duration = timedelta(minutes=10)
    notify_history_retention: Duration = timedelta(days=7)  # delivery history kept in outboxdone

    # --- identity of the responder itself (its own operations never open incidents) -----
    own_principals: StrList = ()

    @field_validator("scopes")
    @classmethod
    def _scopes_are_scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for scope in value:
            if "*" in scope or not is_scope(scope):
                raise ValueError(
                    f"{scope!r} is not a subscription or resource group ID (wildcards are not allowed)"
                )
        return tuple(s.rstrip("/") for s in value)

    @field_validator("allowed_actions")
    @classmethod
    def _no_duplicates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(value))

    def allows(self, action: str) -> bool:
        return self.mode == "act" and action in self.allowed_actions

    @property
    def channels(self) -> tuple[str, ...]:
        """The notification channels configured, by name."""
        out = []
        if self.teams_webhook_url:
            out.append("teams")
        if self.webhook_url:
            out.append("webhook")
        if self.pagerduty_routing_key:
            out.append("pagerduty")
        return tuple(out)

    def with_overrides(self, overrides: Mapping[str, object]) -> Settings:
        return load_settings({**self.model_dump(by_alias=True, exclude_none=True), **overrides})


def load_settings(values: Mapping[str, object] | None = None) -> Settings:
    """Validate settings given by camelCase name; raises :class:`SettingsError` naming the setting."""
    try:
        return Settings.model_validate(dict(values or {}))
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


ENV_PREFIX = "VMSS_RESPONDER_"


def settings_from_env(environ: Mapping[str, str]) -> Settings:
    """Read ``VMSS_RESPONDER_*`` variables (e.g. ``VMSS_RESPONDER_ALLOWED_ACTIONS=resume_repairs,restart_instance``)."""
    by_env = {ENV_PREFIX + name.upper(): name for name in Settings.model_fields}
    values: dict[str, object] = {}
    for env_name, field_name in by_env.items():
        if env_name in environ and environ[env_name] != "":
            values[field_name] = environ[env_name]
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, env=True)) from None


def setting_names() -> dict[str, str]:
    """camelCase name -> environment variable, for documentation and checks."""
    return {to_camel(name): ENV_PREFIX + name.upper() for name in Settings.model_fields}


def _describe(exc: ValidationError, env: bool = False) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"][:1]) or "settings"
        name = (ENV_PREFIX + loc.upper()) if env else to_camel(loc) if "_" in loc else loc
        parts.append(f"setting {name}: {err['msg']}")
    return "; ".join(parts)
