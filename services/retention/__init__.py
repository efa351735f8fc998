"""Retention: the 24-hour purge, `/forget`, and the registry of what expires.

Kept import-light on purpose: models import `services.retention.policy` to declare their expiry,
so this package must not import `bot.db.models` at import time.
"""
