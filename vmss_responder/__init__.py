"""vmss-responder: an event-driven incident responder for Azure Virtual Machine Scale Sets."""

__version__ = "0.1.0"
