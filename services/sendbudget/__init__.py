"""The one send budget (see ``budget.py``); the aiogram side is ``bot/sendbudget.py``."""

from services.sendbudget.budget import (
    MemoryStore,
    Priority,
    RedisStore,
    SendBudget,
    Shed,
    Ticket,
    current_priority,
    send_priority,
)
from services.sendbudget.config import SendBudgetSettings

__all__ = [
    "MemoryStore",
    "Priority",
    "RedisStore",
    "SendBudget",
    "SendBudgetSettings",
    "Shed",
    "Ticket",
    "current_priority",
    "send_priority",
]
