"""What a reply is made with: the operator's default model, each user's model and persona, and
the API keys users bring. Every change commits here, before the handler tells the user."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.ai import AIDefault, AIPreference
from services.ai import personas
from services.ai.catalogue import Catalogue, ModelInfo, ProviderName
from services.ai.keys import KeyStore
from services.ai.providers.base import ErrorKind, ProviderError
from services.ai.providers.registry import ProviderRegistry
from services.crypto.fields import FieldCipher, FieldDecryptError

PURPOSE_PERSONA = "ai-persona"
DEFAULT_MODEL_KEY = "model"


class Preferences:
    def __init__(
        self,
        default_model: str,
        catalogue: Catalogue,
        registry: ProviderRegistry,
        keys: KeyStore,
        cipher: FieldCipher,
    ) -> None:
        self.default_model = default_model
        self.catalogue = catalogue
        self.registry = registry
        self.keys = keys
        self.cipher = cipher

    # -- models ---------------------------------------------------------------------------
    def providers_for(self, own: set[ProviderName]) -> list[ProviderName]:
        """Providers this user can use: configured ones, plus those they brought a key for."""
        return [
            p
            for p in ProviderName
            if self.registry.is_configured(p) or (p in own and self.registry.supports_byok(p))
        ]

    def models_for(self, own: set[ProviderName]) -> list[ModelInfo]:
        usable = set(self.providers_for(own))
        return [m for m in self.catalogue if m.provider in usable]

    async def default_model_id(self, session: AsyncSession) -> str:
        row = await session.get(AIDefault, DEFAULT_MODEL_KEY)
        return row.value if row is not None else self.default_model

    async def set_default_model(self, session: AsyncSession, model_id: str) -> bool:
        if model_id not in self.catalogue:
            return False
        row = await session.get(AIDefault, DEFAULT_MODEL_KEY)
        if row is None:
            session.add(AIDefault(key=DEFAULT_MODEL_KEY, value=model_id))
        else:
            row.value = model_id
        await session.commit()
        return True

    async def preference(self, session: AsyncSession, user_id: int) -> AIPreference:
        """The user's preferences to read (the defaults, not stored, when they chose none)."""
        return await session.get(AIPreference, user_id) or AIPreference(user_id=user_id)

    async def _preference_to_change(self, session: AsyncSession, user_id: int) -> AIPreference:
        pref = await session.get(AIPreference, user_id)
        if pref is None:
            pref = AIPreference(user_id=user_id)
            session.add(pref)
        return pref

    async def current_model(
        self, session: AsyncSession, user_id: int
    ) -> tuple[ModelInfo | None, set[ProviderName]]:
        """The model a reply would use now (the user's choice if usable, else the default,
        else the first usable one) and the providers the user has own keys for."""
        own = await self.keys.providers(session, user_id)
        usable = self.models_for(own)
        if not usable:
            return None, own
        pref = await session.get(AIPreference, user_id)
        for wanted in (pref.model if pref else None, await self.default_model_id(session)):
            model = self.catalogue.get(wanted) if wanted else None
            if model is not None and model in usable:
                return model, own
        return usable[0], own

    async def set_model(self, session: AsyncSession, user_id: int, model_id: str) -> bool:
        own = await self.keys.providers(session, user_id)
        model = self.catalogue.get(model_id)
        if model is None or model not in self.models_for(own):
            return False
        (await self._preference_to_change(session, user_id)).model = model_id
        await session.commit()
        return True

    def alternatives(self, failed: ModelInfo, own: set[ProviderName]) -> list[ModelInfo]:
        """One model from each other usable, healthy provider: the next ones to offer."""
        seen: set[ProviderName] = {failed.provider}
        out: list[ModelInfo] = []
        for m in self.models_for(own):
            if m.provider in seen or not self.registry.healthy(m.provider):
                continue
            seen.add(m.provider)
            out.append(m)
        return out

    # -- personas -------------------------------------------------------------------------
    async def set_persona(
        self, session: AsyncSession, user_id: int, persona_id: str, custom: str | None = None
    ) -> bool:
        """Choose a persona (committed on True). `custom` stores a new custom text; without it,
        the custom persona is the one stored before, if any."""
        if persona_id == personas.CUSTOM:
            if custom is None:
                stored = await session.get(AIPreference, user_id)
                if stored is None or stored.custom_persona is None:
                    return False
            elif not custom or len(custom) > personas.MAX_CUSTOM_CHARS:
                return False
        elif personas.shipped(persona_id) is None:
            return False
        pref = await self._preference_to_change(session, user_id)
        if persona_id == personas.CUSTOM and custom is not None:
            pref.custom_persona = self.cipher.encrypt(PURPOSE_PERSONA, custom, row_id=user_id)
        pref.persona = persona_id
        await session.commit()
        return True

    def system_prompt(self, pref: AIPreference | None, user_id: int) -> str:
        custom: str | None = None
        if pref is not None and pref.custom_persona:
            try:
                custom = self.cipher.decrypt_str(
                    PURPOSE_PERSONA, pref.custom_persona, row_id=user_id
                )
            except FieldDecryptError:
                custom = None
        return personas.system_prompt(pref.persona if pref else None, custom)

    # -- own keys -------------------------------------------------------------------------
    async def add_key(
        self, session: AsyncSession, user_id: int, provider: ProviderName, key: str
    ) -> None:
        """Check the key with one cheap call (listing models), then store it encrypted.
        Raises ``ProviderError`` (kind ``auth`` for a bad key) and stores nothing then."""
        if not self.registry.supports_byok(provider):
            raise ProviderError(ErrorKind.UNAVAILABLE, provider, "no own keys for this provider")
        await self.registry.check_key(provider, key)
        await self.keys.put(session, user_id, provider, key)
        await session.commit()
