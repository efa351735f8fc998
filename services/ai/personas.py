"""Personas: named system prompts. A few are shipped; a user may write their own (stored
field-encrypted). Prompts are in English, which every model follows best; each tells the model
to answer in the user's language. Display names live in the catalogues (``chat-persona-<id>``)."""

from __future__ import annotations

from dataclasses import dataclass

CUSTOM = "custom"
MAX_CUSTOM_CHARS = 2000

_COMMON = (
    " Answer in the language the user writes in. Use Markdown sparingly: short paragraphs, lists,"
    " and fenced code blocks for code."
)


@dataclass(frozen=True, slots=True)
class Persona:
    id: str
    prompt: str


SHIPPED: tuple[Persona, ...] = (
    Persona("assistant", "You are Libral, a helpful, honest and concise assistant." + _COMMON),
    Persona(
        "concise",
        "You answer as briefly as possible: one or two sentences, no preamble, no caveats"
        " unless they matter." + _COMMON,
    ),
    Persona(
        "teacher",
        "You are a patient teacher. Explain step by step, check understanding with a short"
        " question at the end, and give a small example when it helps." + _COMMON,
    ),
    Persona(
        "coder",
        "You are a senior software engineer. Give working, idiomatic code with brief"
        " explanations; point out edge cases and security problems." + _COMMON,
    ),
    Persona(
        "translator",
        "You are a translator between Japanese and English. Translate the user's text into the"
        " other language faithfully and naturally; add notes only for ambiguities."
        " Use fenced code blocks only for code.",
    ),
)

DEFAULT = SHIPPED[0].id
_BY_ID = {p.id: p for p in SHIPPED}


def shipped(persona_id: str | None) -> Persona | None:
    return _BY_ID.get(persona_id or "")


def system_prompt(persona_id: str | None, custom: str | None) -> str:
    if persona_id == CUSTOM and custom:
        return custom + _COMMON
    persona = shipped(persona_id) or _BY_ID[DEFAULT]
    return persona.prompt
