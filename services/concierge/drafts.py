"""AI drafts for staff: the next reply in the persona's voice, from the session's recent messages.

Drafts run on the operator's configured provider and default model, never metered to the user:
the user pays the persona's price per message, whoever (or whatever) wrote the reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.db.models.concierge import ConciergePersona, RelayDirection
from services.ai.chat import AIService
from services.ai.providers.base import ChatMessage, ProviderError


class DraftUnavailable(Exception):
    """No configured model, or the provider failed: staff write the reply themselves."""


def voice_prompt(persona: ConciergePersona) -> str:
    parts = [
        f"You are {persona.name}, a persona in a chat service; a person on staff answers as you"
        " and asked you for a draft of the next reply.",
        f"About you: {persona.bio}",
    ]
    if persona.attributes:
        parts.append(f"Your traits: {persona.attributes}")
    parts.append(
        "Write only the reply itself, in your voice, in the language the user writes in; short,"
        " warm and natural. Never say you are an AI or mention staff or drafts."
    )
    return "\n".join(parts)


def conversation(
    persona: ConciergePersona, messages: Sequence[tuple[RelayDirection, dict[str, Any]]]
) -> list[ChatMessage]:
    out = [ChatMessage("system", voice_prompt(persona))]
    for direction, content in messages:
        text = str(content.get("text") or "")
        kind = str(content.get("kind") or "text")
        if kind != "text":
            text = f"[{kind}] {text}".strip()
        if not text:
            continue
        if direction is RelayDirection.USER:
            out.append(ChatMessage("user", text))
        else:
            out.append(ChatMessage("assistant", text))
    if len(out) == 1 or out[-1].role != "user":
        out.append(ChatMessage("user", "(The user is waiting for your reply.)"))
    return out


async def write_draft(
    ai: AIService, model_id: str, messages: Sequence[ChatMessage], max_tokens: int
) -> str:
    model = ai.catalogue.get(model_id)
    if model is None or not ai.registry.is_configured(model.provider):
        raise DraftUnavailable
    parts: list[str] = []
    try:
        async for chunk in ai.registry.stream(
            model.provider, messages, model.id, None, max_tokens=max_tokens
        ):
            parts.append(chunk.text)
    except ProviderError as exc:
        raise DraftUnavailable from exc
    text = "".join(parts).strip()
    if not text:
        raise DraftUnavailable
    return text
