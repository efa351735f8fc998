"""Concierge: personas run by staff, answered from a staff forum, credits per user message.

Modules: ``staff`` (who may answer), ``personas``, ``sessions`` (sessions, charging, relayed
messages), ``desk`` (the linked forum and its topics), ``relay`` (copies both ways),
``templates``, ``drafts`` (AI drafts for staff), ``transcript`` (to the user's log server) and
``service`` (the flows the handlers call: ``ConciergeService``, AppDeps field ``concierge``).
"""

from services.concierge.config import ConciergeSettings
from services.concierge.service import ConciergeService, Outcome, Result, Waiting

__all__ = ["ConciergeService", "ConciergeSettings", "Outcome", "Result", "Waiting"]
