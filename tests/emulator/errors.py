"""Bot API errors as Telegram words them, raised by method handlers and turned into envelopes."""

from __future__ import annotations

from typing import Any


class TelegramError(Exception):
    """An error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def envelope(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class EmulatorUsageError(AssertionError):
    """A test asked the emulator for something Telegram would not let a user do."""


def bad_request(reason: str) -> TelegramError:
    return TelegramError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> TelegramError:
    return TelegramError(403, f"Forbidden: {reason}")


def conflict(reason: str) -> TelegramError:
    return TelegramError(409, f"Conflict: {reason}")


def unauthorized() -> TelegramError:
    return TelegramError(401, "Unauthorized")


def not_found(description: str = "Not Found") -> TelegramError:
    return TelegramError(404, description)


def too_many_requests(retry_after: int) -> TelegramError:
    return TelegramError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


def server_error(code: int = 500) -> TelegramError:
    text = {500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Timeout"}
    return TelegramError(code, text.get(code, "Internal Server Error"))


CHAT_NOT_FOUND = "chat not found"
MESSAGE_TEXT_EMPTY = "message text is empty"
MESSAGE_TOO_LONG = "message is too long"
CAPTION_TOO_LONG = "message caption is too long"
BUTTON_DATA_INVALID = "BUTTON_DATA_INVALID"
THREAD_NOT_FOUND = "message thread not found"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
BLOCKED = "bot was blocked by the user"
CANT_INITIATE = "bot can't initiate conversation with a user"
WEBHOOK_ACTIVE = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
