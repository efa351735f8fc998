"""A Telegram Bot API emulator for end-to-end tests with the real aiogram ``Bot``.

See README.md in this folder for the test-facing API and how to add methods.
"""

from .actors import Press, UserActor
from .errors import EmulatorUsageError, TelegramError
from .limits import Fault
from .server import BotAPIEmulator, CallRecord
from .state import Chat, Draft, StoredMessage, User, admin_rights, all_admin_rights

__all__ = [
    "BotAPIEmulator",
    "CallRecord",
    "Chat",
    "Draft",
    "EmulatorUsageError",
    "Fault",
    "Press",
    "StoredMessage",
    "TelegramError",
    "User",
    "UserActor",
    "admin_rights",
    "all_admin_rights",
]
