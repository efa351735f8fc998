"""`/admin`: the operators' inline-button panel, one message edited in place.

Only operators (`ADMIN_IDS` or the admin role) see it; anyone else gets exactly the unknown-command
reply. Every button press and every reply to a prompt re-checks the role on the server
(`gate.OperatorGate`), and amounts, targets and pending confirmations live in the server-side FSM
data (`panel.PanelData`), never in the callback data. Destructive steps (deduct, ban, refund,
broadcast, purge) ask for confirmation with a single-use nonce. Every action, allowed or refused,
is written to the audit trail, committed by the admin services before the panel shows its result.

Routing is aiogram's own: one handler per `AdminAction` (and per `Confirm` kind), one per prompt
state; each flow is a sub-router of its own module.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery

from bot.db.models import User
from handlers.admin import broadcast, menu, payments, stats, system, users
from handlers.admin.gate import OperatorGate
from handlers.admin.panel import Panel
from keyboards.admin import AdminCD


async def on_leftover(query: CallbackQuery, user: User, panel: Panel) -> None:
    """A button no flow takes (forged, or from an older version). It exists so that the gate
    sees every press of ours: a non-operator's is refused and audited there, and an operator's
    confirmation of an unknown kind is answered there as stale."""
    await panel.alert(panel.i18n("error-button-expired"))


def setup() -> Router:
    router = Router(name="admin")
    gate = OperatorGate()
    router.message.middleware(gate)
    router.callback_query.middleware(gate)
    # Last: a router's own handlers run before its sub-routers', so the leftovers get one too.
    leftovers = Router(name="admin-leftovers")
    leftovers.callback_query.register(on_leftover, AdminCD.filter())
    router.include_routers(
        menu.setup(),
        stats.setup(),
        users.setup(),
        payments.setup(),
        broadcast.setup(),
        system.setup(),
        leftovers,
    )
    return router
