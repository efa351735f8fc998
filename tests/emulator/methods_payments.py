"""Telegram Stars payments: invoices, the payment flow, subscriptions, refunds, transactions.

Methods: ``sendInvoice``, ``createInvoiceLink``, ``answerPreCheckoutQuery``,
``refundStarPayment``, ``getStarTransactions``, ``editUserStarSubscription`` — Stars (``XTR``)
only, with Telegram's rules: an empty provider token, exactly one price item, a payload of 1–128
bytes, ``subscription_period`` only 2592000 and at most 10,000 Stars, a pre-checkout answer
within 10 seconds, one refund per charge.

Test actions (a user paying, Telegram renewing, refunding, reporting a subscription change)::

    stars = payments_of(emu)
    invoice = await user.wait_reply()                 # the bot's invoice message
    paid = await stars.pay(user, invoice)             # pre_checkout_query → successful_payment
    paid = await stars.pay_link(user, url)            # a createInvoiceLink link (subscriptions)
    renewal = stars.renew(paid.charge_id)             # the next period's successful_payment
    stars.refund_by_telegram(paid.charge_id)          # refunded_payment, as Telegram support does
    stars.report_subscription(paid.charge_id, "canceled")   # the `subscription` update
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .errors import EmulatorUsageError, bad_request
from .messaging import check_reply_markup
from .registry import Call, registry
from .state import StoredMessage

if TYPE_CHECKING:
    from .actors import UserActor
    from .server import BotAPIEmulator

CURRENCY = "XTR"
SUBSCRIPTION_PERIOD = 2_592_000
MAX_SUBSCRIPTION_STARS = 10_000
MAX_INVOICE_STARS = 100_000
PRE_CHECKOUT_TIMEOUT = 10.0
MAX_PAYLOAD_BYTES = 128
_NOT_FOR_STARS = (
    "need_name",
    "need_phone_number",
    "need_email",
    "need_shipping_address",
    "is_flexible",
    "send_phone_number_to_provider",
    "send_email_to_provider",
)


@dataclass
class Invoice:
    title: str
    description: str
    payload: str
    amount: int
    subscription_period: int | None = None
    link: str | None = None
    chat_id: int | None = None
    message_id: int | None = None


@dataclass
class PreCheckout:
    id: str
    user_id: int
    invoice: Invoice
    created_at: float
    answered: bool = False
    ok: bool | None = None
    error_message: str | None = None
    late: bool = False  # answered after the 10 s Telegram waits


@dataclass
class Charge:
    charge_id: str
    user_id: int
    amount: int
    payload: str
    date: int
    subscription_id: str | None = None  # the first charge id of its subscription
    refunded: bool = False


@dataclass
class Subscription:
    first_charge_id: str
    user_id: int
    payload: str
    amount: int
    expires: int
    canceled_by_user: bool = False
    canceled_by_bot: bool = False

    @property
    def renews(self) -> bool:
        return not (self.canceled_by_user or self.canceled_by_bot)


@dataclass
class Transaction:
    id: str
    amount: int
    date: int
    user_id: int
    direction: Literal["in", "refund"]
    payload: str
    subscription_period: int | None = None


@dataclass
class PaymentResult:
    """What a user's attempt to pay produced."""

    query: PreCheckout | None  # None for a renewal (Telegram asks nobody)
    charge_id: str | None = None
    update: dict[str, Any] | None = None
    message: StoredMessage | None = None

    @property
    def ok(self) -> bool:
        return self.charge_id is not None


@dataclass
class StarsWorld:
    """The payments side of one emulator: invoices, charges, subscriptions, transactions."""

    emu: BotAPIEmulator
    invoices: list[Invoice] = field(default_factory=list)
    queries: dict[str, PreCheckout] = field(default_factory=dict)
    charges: dict[str, Charge] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    transactions: list[Transaction] = field(default_factory=list)
    refund_calls: dict[str, int] = field(default_factory=dict)  # charge id → refundStarPayment
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- look-ups --------------------------------------------------------------------------------

    def invoice_of(self, message: StoredMessage) -> Invoice:
        for invoice in self.invoices:
            if invoice.chat_id == message.chat_id and invoice.message_id == message.message_id:
                return invoice
        raise EmulatorUsageError(f"{message} is not an invoice")

    def invoice_by_link(self, url: str) -> Invoice:
        for invoice in self.invoices:
            if invoice.link == url:
                return invoice
        raise EmulatorUsageError(f"no invoice link {url!r}")

    def subscription_of(self, user: UserActor) -> Subscription | None:
        found = [s for s in self.subscriptions.values() if s.user_id == user.id]
        return found[-1] if found else None

    def _next_charge_id(self) -> str:
        return f"stxEmu{next(self._ids):010d}"

    # -- a user pays -----------------------------------------------------------------------------

    async def pay(
        self, user: UserActor, invoice_message: StoredMessage, *, timeout: float = 5.0
    ) -> PaymentResult:
        """The user taps Pay on an invoice message."""
        current = self.emu.chat(invoice_message.chat_id).messages[invoice_message.message_id]
        if current.deleted:
            raise EmulatorUsageError("the invoice message was deleted")
        if invoice_message.chat_id != user.id:
            raise EmulatorUsageError("the invoice is not in this user's private chat")
        return await self._pay(user, self.invoice_of(current), timeout)

    async def pay_link(self, user: UserActor, url: str, *, timeout: float = 5.0) -> PaymentResult:
        """The user opens an invoice link (``createInvoiceLink``) and pays."""
        return await self._pay(user, self.invoice_by_link(url), timeout)

    async def _pay(self, user: UserActor, invoice: Invoice, timeout: float) -> PaymentResult:
        emu = self.emu
        if invoice.subscription_period is not None:
            current = self.subscription_of(user)
            if (
                current is not None
                and current.payload == invoice.payload
                and current.expires > emu.clock.timestamp()
            ):
                raise EmulatorUsageError("Telegram does not let a user subscribe twice")
        query = PreCheckout(
            id=emu.state.next_query_id(),
            user_id=user.id,
            invoice=invoice,
            created_at=emu.clock.now(),
        )
        self.queries[query.id] = query
        emu.updates.push(
            {
                "pre_checkout_query": {
                    "id": query.id,
                    "from": user.user.to_api(),
                    "currency": CURRENCY,
                    "total_amount": invoice.amount,
                    "invoice_payload": invoice.payload,
                }
            }
        )
        await emu.wait_until(
            lambda: query.answered, timeout, what=f"answerPreCheckoutQuery for {query.id}"
        )
        if not query.ok or query.late:
            return PaymentResult(query)
        charge_id = self._next_charge_id()
        now = emu.clock.timestamp()
        charge = Charge(charge_id, user.id, invoice.amount, invoice.payload, now)
        paid: dict[str, Any] = {
            "currency": CURRENCY,
            "total_amount": invoice.amount,
            "invoice_payload": invoice.payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": charge_id,
        }
        if invoice.subscription_period is not None:
            expires = now + invoice.subscription_period
            self.subscriptions[charge_id] = Subscription(
                charge_id, user.id, invoice.payload, invoice.amount, expires
            )
            charge.subscription_id = charge_id
            paid |= {
                "is_recurring": True,
                "is_first_recurring": True,
                "subscription_expiration_date": expires,
            }
        self._record_charge(charge, invoice.subscription_period)
        message, update = self._service_message(user.id, {"successful_payment": paid})
        return PaymentResult(query, charge_id, update, message)

    # -- Telegram acts on its own ----------------------------------------------------------------

    def renew(self, subscription_charge_id: str) -> PaymentResult:
        """Telegram charges the next period of a renewing subscription."""
        sub = self.subscriptions.get(subscription_charge_id)
        if sub is None:
            raise EmulatorUsageError(f"no subscription {subscription_charge_id}")
        if not sub.renews:
            raise EmulatorUsageError("the subscription is canceled: Telegram would not renew it")
        charge_id = self._next_charge_id()
        sub.expires += SUBSCRIPTION_PERIOD
        charge = Charge(
            charge_id,
            sub.user_id,
            sub.amount,
            sub.payload,
            self.emu.clock.timestamp(),
            subscription_id=sub.first_charge_id,
        )
        self._record_charge(charge, SUBSCRIPTION_PERIOD)
        paid = {
            "currency": CURRENCY,
            "total_amount": sub.amount,
            "invoice_payload": sub.payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": charge_id,
            "is_recurring": True,
            "subscription_expiration_date": sub.expires,
        }
        message, update = self._service_message(sub.user_id, {"successful_payment": paid})
        return PaymentResult(None, charge_id, update, message)

    def refund_by_telegram(self, charge_id: str) -> dict[str, Any] | None:
        """A refund made outside the bot (Telegram support): ``refunded_payment`` arrives."""
        charge = self.charges.get(charge_id)
        if charge is None or charge.refunded:
            raise EmulatorUsageError(f"charge {charge_id} is unknown or already refunded")
        return self._refund(charge)

    def report_subscription(
        self, subscription_charge_id: str, state: Literal["active", "canceled", "failed"]
    ) -> dict[str, Any] | None:
        """The user changed the subscription in Telegram (or its payment failed): the
        ``subscription`` update (Bot API 10.2)."""
        sub = self.subscriptions[subscription_charge_id]
        if state == "canceled":
            sub.canceled_by_user = True
        elif state == "active":
            sub.canceled_by_user = False
        user = self.emu.state.users[sub.user_id]
        update = self.emu.updates.push(
            {
                "subscription": {
                    "user": user.to_api(),
                    "invoice_payload": sub.payload,
                    "state": state,
                }
            }
        )
        self.emu.notify()
        return update

    # -- internals -------------------------------------------------------------------------------

    def _record_charge(self, charge: Charge, period: int | None) -> None:
        self.charges[charge.charge_id] = charge
        self.transactions.append(
            Transaction(
                charge.charge_id,
                charge.amount,
                charge.date,
                charge.user_id,
                "in",
                charge.payload,
                period,
            )
        )

    def _refund(self, charge: Charge) -> dict[str, Any] | None:
        charge.refunded = True
        self.transactions.append(
            Transaction(
                charge.charge_id,
                charge.amount,
                self.emu.clock.timestamp(),
                charge.user_id,
                "refund",
                charge.payload,
            )
        )
        _, update = self._service_message(
            charge.user_id,
            {
                "refunded_payment": {
                    "currency": CURRENCY,
                    "total_amount": charge.amount,
                    "invoice_payload": charge.payload,
                    "telegram_payment_charge_id": charge.charge_id,
                    "provider_payment_charge_id": charge.charge_id,
                }
            },
        )
        return update

    def _service_message(
        self, user_id: int, body: dict[str, Any]
    ) -> tuple[StoredMessage, dict[str, Any] | None]:
        """A service message in the user's private chat, sent by the user (as Telegram does)."""
        emu = self.emu
        user = emu.state.users[user_id]
        chat = emu.state.private_chat(user)
        message = emu.add_message(chat, user, body)
        update = None if user.blocked_bot else emu.updates.push({"message": message.data})
        emu.notify()
        return message, update


_worlds: weakref.WeakKeyDictionary[BotAPIEmulator, StarsWorld] = weakref.WeakKeyDictionary()


def payments_of(emu: BotAPIEmulator) -> StarsWorld:
    """The payments state of ``emu`` (created on first use)."""
    world = _worlds.get(emu)
    if world is None:
        world = StarsWorld(emu)
        _worlds[emu] = world
    return world


# -- invoice rules --------------------------------------------------------------------------------


def _check_invoice(call: Call, *, allow_subscription: bool) -> Invoice:
    title = call.get_str("title")
    description = call.get_str("description")
    payload = call.get_str("payload")
    if not 1 <= len(title) <= 32:
        raise bad_request("INVOICE_TITLE_INVALID")
    if not 1 <= len(description) <= 255:
        raise bad_request("INVOICE_DESCRIPTION_INVALID")
    if not 1 <= len(payload.encode("utf-8")) <= MAX_PAYLOAD_BYTES:
        raise bad_request("INVOICE_PAYLOAD_INVALID")
    if call.get_str("currency") != CURRENCY:
        raise bad_request("CURRENCY_INVALID: the emulator takes Telegram Stars (XTR) only")
    if call.opt_str("provider_token"):
        raise bad_request("PAYMENT_PROVIDER_INVALID: Stars invoices need an empty provider token")
    for flag in _NOT_FOR_STARS:
        if call.flag(flag):
            raise bad_request(f"{flag} is not available for payments in Telegram Stars")
    if call.has("max_tip_amount") or call.has("suggested_tip_amounts"):
        raise bad_request("tips are not available for payments in Telegram Stars")
    prices = call.get_list("prices") or []
    if len(prices) != 1:
        raise bad_request("STARS_INVOICE_INVALID: exactly one price item is allowed for XTR")
    price = prices[0]
    amount = price.get("amount") if isinstance(price, dict) else None
    if not isinstance(amount, int) or not 1 <= amount <= MAX_INVOICE_STARS:
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    if not isinstance(price.get("label"), str) or not price["label"]:
        raise bad_request("LABEL_INVALID")
    period = call.opt_int("subscription_period") if allow_subscription else None
    if period is not None:
        if period != SUBSCRIPTION_PERIOD:
            raise bad_request("SUBSCRIPTION_PERIOD_INVALID")
        if amount > MAX_SUBSCRIPTION_STARS:
            raise bad_request("SUBSCRIPTION_PRICE_INVALID: at most 10000 Stars per period")
    return Invoice(title, description, payload, amount, period)


@registry.method("sendInvoice")
async def send_invoice(call: Call) -> dict[str, Any]:
    emu = call.emu
    chat = emu.writable_chat(call.chat_ref())
    invoice = _check_invoice(call, allow_subscription=False)
    markup = check_reply_markup(call.get_obj("reply_markup"))
    if markup is not None:
        first = (markup.get("inline_keyboard") or [[{}]])[0][0]
        if not first.get("pay"):
            raise bad_request("the first button of an invoice must be a Pay button")
    thread_id = emu.resolve_thread(chat, call.opt_int("message_thread_id"))
    body = {
        "invoice": {
            "title": invoice.title,
            "description": invoice.description,
            "start_parameter": call.opt_str("start_parameter") or "",
            "currency": CURRENCY,
            "total_amount": invoice.amount,
        }
    }
    message = emu.add_message(chat, emu.bot_user, body, thread_id=thread_id, reply_markup=markup)
    invoice.chat_id = chat.id
    invoice.message_id = message.message_id
    payments_of(emu).invoices.append(invoice)
    return message.data


@registry.method("createInvoiceLink")
async def create_invoice_link(call: Call) -> str:
    if call.has("business_connection_id"):
        raise bad_request("BUSINESS_CONNECTION_INVALID")
    world = payments_of(call.emu)
    invoice = _check_invoice(call, allow_subscription=True)
    invoice.link = f"https://t.me/$emu{len(world.invoices) + 1:08d}"
    world.invoices.append(invoice)
    return invoice.link


@registry.method("answerPreCheckoutQuery")
async def answer_pre_checkout_query(call: Call) -> bool:
    emu = call.emu
    query = payments_of(emu).queries.get(call.get_str("pre_checkout_query_id"))
    if query is None or query.answered:
        raise bad_request("QUERY_ID_INVALID")
    ok = call.flag("ok")
    error_message = call.opt_str("error_message")
    if not ok and not error_message:
        raise bad_request("ERROR_MESSAGE_EMPTY: error_message is required when ok is False")
    query.late = emu.clock.now() - query.created_at > PRE_CHECKOUT_TIMEOUT
    query.answered = True
    query.ok = ok
    query.error_message = error_message
    emu.notify()
    if query.late:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    return True


@registry.method("refundStarPayment")
async def refund_star_payment(call: Call) -> bool:
    world = payments_of(call.emu)
    charge_id = call.get_str("telegram_payment_charge_id")
    world.refund_calls[charge_id] = world.refund_calls.get(charge_id, 0) + 1
    charge = world.charges.get(charge_id)
    if charge is None or charge.user_id != call.get_int("user_id"):
        raise bad_request("CHARGE_NOT_FOUND")
    if charge.refunded:
        raise bad_request("CHARGE_ALREADY_REFUNDED")
    world._refund(charge)
    return True


@registry.method("getStarTransactions")
async def get_star_transactions(call: Call) -> dict[str, Any]:
    world = payments_of(call.emu)
    offset = call.opt_int("offset") or 0
    limit = call.opt_int("limit")
    limit = 100 if limit is None else limit
    if offset < 0:
        raise bad_request("offset must be non-negative")
    if not 1 <= limit <= 100:
        raise bad_request("limit must be between 1 and 100")
    users = call.emu.state.users
    out: list[dict[str, Any]] = []
    for tx in world.transactions[offset : offset + limit]:
        partner: dict[str, Any] = {
            "type": "user",
            "transaction_type": "invoice_payment",
            "user": users[tx.user_id].to_api(),
            "invoice_payload": tx.payload,
        }
        if tx.subscription_period is not None:
            partner["subscription_period"] = tx.subscription_period
        item: dict[str, Any] = {"id": tx.id, "amount": tx.amount, "date": tx.date}
        item["source" if tx.direction == "in" else "receiver"] = partner
        out.append(item)
    return {"transactions": out}


@registry.method("editUserStarSubscription")
async def edit_user_star_subscription(call: Call) -> bool:
    world = payments_of(call.emu)
    sub = world.subscriptions.get(call.get_str("telegram_payment_charge_id"))
    if sub is None or sub.user_id != call.get_int("user_id"):
        raise bad_request("SUBSCRIPTION_NOT_FOUND")
    if sub.expires <= call.emu.clock.timestamp():
        raise bad_request("SUBSCRIPTION_EXPIRED")
    if call.flag("is_canceled"):
        sub.canceled_by_bot = True
    else:
        if not sub.canceled_by_bot:
            # Only a cancellation made by the bot can be undone by the bot.
            raise bad_request("SUBSCRIPTION_NOT_MODIFIED")
        sub.canceled_by_bot = False
    call.emu.notify()
    return True
