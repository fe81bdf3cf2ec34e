"""The process-wide :class:`~vmss_responder.runner.Responder`, built on first use.

A Functions worker imports ``function_app`` to index it, long before (and sometimes without)
handling anything, so the Responder (settings, store, Azure SDK clients) is built by the first
invocation that needs it, once per process. ``serve`` and tests install their own with
:func:`use`. A failed build is not cached: the next invocation tries again.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vmss_responder.runner import Responder

_lock = threading.Lock()
_current: Responder | None = None


def responder() -> Responder:
    global _current
    current = _current
    if current is not None:
        return current
    with _lock:
        if _current is None:
            from vmss_responder.bootstrap import from_environment

            _current = from_environment()
        return _current


def use(value: Responder | None) -> None:
    """Install a Responder for this process (``serve``, tests); ``None`` forgets it."""
    global _current
    with _lock:
        _current = value
