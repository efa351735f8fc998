"""AI rooms: people and the AI together in Telegram groups and forum topics, with roles, a room
budget, private answers and regenerate (docs/rooms.md)."""

from services.rooms.roles import MATRIX, Permission, Role, allowed
from services.rooms.service import Answer, AnswerUI, Outcome, Question, RoomService

__all__ = [
    "MATRIX",
    "Answer",
    "AnswerUI",
    "Outcome",
    "Permission",
    "Question",
    "Role",
    "RoomService",
    "allowed",
]
