"""Notifications: one story per incident, rendered per channel, delivered through an outbox."""
