"""Database errors never carry bound values (they can be personal) into exception texts or logs."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

CANARY = "canary-7f3a-personal-value"


async def test_failed_statement_does_not_show_its_parameters(engine: AsyncEngine) -> None:
    with pytest.raises(DBAPIError) as caught:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO no_such_table (x) VALUES (:x)"), {"x": CANARY})
    assert CANARY not in str(caught.value)
