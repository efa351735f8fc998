"""Libral: a Telegram-first, privacy-first AI bot platform."""

__version__ = "0.1.0"
