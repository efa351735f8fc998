"""All models. Every module in this package is imported so that `Base.metadata` is complete
(Alembic autogenerate, the privacy schema test); a feature adds its models as a new module here."""

from __future__ import annotations

import importlib
import pkgutil

from bot.db.base import Base
from bot.db.models.ledger import CreditMovement, MovementKind
from bot.db.models.users import User, UserRole, UserStatus

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Base", "CreditMovement", "MovementKind", "User", "UserRole", "UserStatus"]
