"""Retention: the 24-hour purge and `/forget`, applying the registry of what expires
(`bot/db/retention.py`, part of the core next to the models that declare it)."""
