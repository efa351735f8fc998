"""Token estimates for trimming the context to a model's window and for reserving credits.

- OpenAI models (and OpenAI-compatible ones whose id names a GPT model): the real BPE encoding
  (``o200k_base`` for GPT-4o/4.1/5 and o-series, ``cl100k_base`` for GPT-4/3.5) from the
  ``bpe-openai`` package, which ships the encodings inside the wheel — unlike ``tiktoken``, it
  never downloads them at run time, so it works offline and in tests.
- Every other model (Claude, Gemini, Llama, …): a documented, deliberately generous estimate —
  one token per 4 ASCII characters plus one token per non-ASCII character (Japanese, Chinese and
  emoji take about one token per character or more in these tokenizers). The providers' real
  counts are used for billing; the estimate only decides what fits and what to reserve.
- Each message adds ``MESSAGE_OVERHEAD`` tokens for the role markers of the chat format.
"""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Iterable
from functools import lru_cache
from typing import Protocol

from services.ai.catalogue import ModelInfo, ProviderName

log = logging.getLogger(__name__)

MESSAGE_OVERHEAD = 4


class _Encoding(Protocol):
    def encode(self, text: str, *, disallowed_special: object = ...) -> list[int]: ...


@lru_cache(maxsize=4)
def _encoding(name: str) -> _Encoding | None:
    try:
        module = importlib.import_module("bpe_openai")
        encoding: _Encoding = module.get_encoding(name)
    except (ImportError, LookupError, ValueError, RuntimeError):  # fall back to the estimate
        log.warning("BPE encoding %s unavailable; using the character estimate", name)
        return None
    return encoding


def warm_up(models: Iterable[ModelInfo]) -> int:
    """Load (and exercise once) the encodings these models need: the first use takes seconds
    and must not happen on the event loop in the middle of replies. Returns how many loaded."""
    names = {encoding_name(m.id) for m in models if uses_bpe(m)}
    loaded = 0
    for name in sorted(names):
        encoding = _encoding(name)
        if encoding is not None:
            encoding.encode("warm up", disallowed_special=())
            loaded += 1
    return loaded


def encoding_name(model_id: str) -> str:
    lowered = model_id.lower().rsplit("/", 1)[-1]
    if lowered.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt")):
        return "o200k_base"
    return "cl100k_base"


def uses_bpe(model: ModelInfo) -> bool:
    if model.provider is ProviderName.OPENAI:
        return True
    return model.provider is ProviderName.COMPAT and model.id.lower().rsplit("/", 1)[-1].startswith(
        ("gpt-", "o1", "o3", "o4")
    )


def estimate_text(text: str) -> int:
    """The character estimate used for non-OpenAI models."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


class TokenCounter:
    """Counts tokens for one model."""

    def __init__(self, model: ModelInfo) -> None:
        self.model = model
        self._encoding = _encoding(encoding_name(model.id)) if uses_bpe(model) else None

    @property
    def exact(self) -> bool:
        return self._encoding is not None

    def text(self, text: str) -> int:
        if self._encoding is not None:
            return len(self._encoding.encode(text, disallowed_special=()))
        return estimate_text(text)

    def message(self, text: str) -> int:
        return self.text(text) + MESSAGE_OVERHEAD

    def messages(self, texts: Iterable[str]) -> int:
        return sum(self.message(t) for t in texts)
