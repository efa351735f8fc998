"""The model catalogue: which models exist, who serves them, their window and their price.

The data lives in ``services/ai/models.toml`` (or the file named by ``AI__CATALOGUE_PATH``).
Prices are in credits per million tokens; 1 credit = 0.001 USD of list price (docs/ai.md).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

SHIPPED_CATALOGUE = Path(__file__).with_name("models.toml")


class ProviderName(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    COMPAT = "compat"


class CatalogueError(ValueError):
    """The catalogue file is malformed."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    provider: ProviderName
    name: str
    context: int
    input_price: int
    """Credits per million input tokens."""
    output_price: int
    """Credits per million output tokens."""
    images: bool = False

    @property
    def free(self) -> bool:
        return self.input_price == 0 and self.output_price == 0

    def cost(self, input_tokens: int, output_tokens: int) -> int:
        """Credits for a reply, rounded up to a whole credit (0 only for free models)."""
        micro = input_tokens * self.input_price + output_tokens * self.output_price
        return math.ceil(micro / 1_000_000) if micro > 0 else 0


class Catalogue:
    """An ordered, read-only set of models."""

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self._models: dict[str, ModelInfo] = {}
        for model in models:
            if model.id in self._models:
                raise CatalogueError(f"duplicate model id {model.id!r}")
            self._models[model.id] = model

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalogue:
        file = Path(path) if path else SHIPPED_CATALOGUE
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CatalogueError(f"cannot read model catalogue {file}: {exc}") from exc
        return cls.from_dict(data, source=str(file))

    @classmethod
    def from_dict(cls, data: dict[str, object], *, source: str = "<dict>") -> Catalogue:
        entries = data.get("model")
        if not isinstance(entries, list) or not entries:
            raise CatalogueError(f"{source}: expected one or more [[model]] tables")
        models: list[ModelInfo] = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise CatalogueError(f"{source}: model #{index + 1} is not a table")
            models.append(_parse_model(entry, f"{source}: model #{index + 1}"))
        return cls(models)

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._models

    def get(self, model_id: str) -> ModelInfo | None:
        return self._models.get(model_id)

    def by_provider(self, provider: ProviderName) -> list[ModelInfo]:
        return [m for m in self._models.values() if m.provider is provider]


def _parse_model(entry: dict[str, object], where: str) -> ModelInfo:
    def need_str(key: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            raise CatalogueError(f"{where}: {key!r} must be a non-empty string")
        return value

    def need_int(key: str, *, minimum: int) -> int:
        value = entry.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise CatalogueError(f"{where}: {key!r} must be an integer >= {minimum}")
        return value

    provider_raw = need_str("provider")
    try:
        provider = ProviderName(provider_raw)
    except ValueError as exc:
        raise CatalogueError(f"{where}: unknown provider {provider_raw!r}") from exc
    images = entry.get("images", False)
    if not isinstance(images, bool):
        raise CatalogueError(f"{where}: 'images' must be true or false")
    return ModelInfo(
        id=need_str("id"),
        provider=provider,
        name=need_str("name"),
        context=need_int("context", minimum=256),
        input_price=need_int("input_price", minimum=0),
        output_price=need_int("output_price", minimum=0),
        images=images,
    )
