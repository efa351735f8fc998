"""The payments catalogue, invoice payload, settings and the catalogue keys picked at run time."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.db.models.payments import ChargeFlag, SubscriptionState
from bot.i18n import Translator
from services.payments.catalogue import (
    Catalogue,
    Item,
    ItemKind,
    Payload,
    PayloadError,
    decode_payload,
    encode_payload,
)
from services.payments.config import PaymentsSettings
from services.payments.errors import RefundRefusal
from services.payments.purchases import CheckoutRefusal, check_charge


def test_payload_round_trip_and_size() -> None:
    catalogue = Catalogue(PaymentsSettings())
    for item in catalogue.items():
        parsed = decode_payload(item.payload)
        assert (parsed.kind, parsed.item_id, parsed.version) == (item.kind, item.id, item.version)
        assert (parsed.stars, parsed.credits) == (item.stars, item.credits)
        assert 1 <= len(item.payload.encode()) <= 128


def test_a_longest_payload_still_fits() -> None:
    item = Item(ItemKind.SUBSCRIPTION, "z" * 16, 10_000, 10**15, 2_592_000)
    assert len(item.payload.encode()) <= 128


@pytest.mark.parametrize(
    "text", ["", "lb1:p:small", "lb2:p:small:abcd:1:2", "lb1:x:small:abcd:1:2", "lb1:p:s:v:a:2"]
)
def test_foreign_payloads_are_rejected(text: str) -> None:
    with pytest.raises(PayloadError):
        decode_payload(text)


def test_an_overlong_payload_is_refused() -> None:
    with pytest.raises(PayloadError):
        encode_payload(Payload(ItemKind.PACK, "x" * 200, "00000000", 1, 1))


def test_version_changes_with_the_terms_only() -> None:
    a = Item(ItemKind.PACK, "small", 50, 500)
    assert a.version == Item(ItemKind.PACK, "small", 50, 500).version
    assert a.version != Item(ItemKind.PACK, "small", 40, 500).version
    assert a.version != Item(ItemKind.PACK, "small", 50, 600).version
    assert a.version != Item(ItemKind.SUBSCRIPTION, "small", 50, 500, 2_592_000).version


def test_catalogue_lookup() -> None:
    catalogue = Catalogue(PaymentsSettings())
    assert catalogue.pack("small") is not None
    assert catalogue.pack("monthly") is None
    assert catalogue.get(ItemKind.SUBSCRIPTION, "monthly") == catalogue.subscription


def test_settings_reject_bad_catalogues() -> None:
    with pytest.raises(ValidationError):
        PaymentsSettings.model_validate({"subscription": {"stars": 10_001, "credits": 1}})
    with pytest.raises(ValidationError):
        PaymentsSettings.model_validate(
            {"subscription": {"stars": 10, "credits": 1, "period_seconds": 604_800}}
        )
    with pytest.raises(ValidationError):
        PaymentsSettings.model_validate(
            {
                "packs": [
                    {"id": "a", "stars": 1, "credits": 1},
                    {"id": "a", "stars": 2, "credits": 2},
                ]
            }
        )
    with pytest.raises(ValidationError):
        PaymentsSettings.model_validate({"packs": [{"id": "Bad Id", "stars": 1, "credits": 1}]})


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import Settings

    monkeypatch.setenv("PAYMENTS__PACKS", '[{"id":"tiny","stars":5,"credits":40}]')
    monkeypatch.setenv("PAYMENTS__AUTO_REFUND_HOURS", "0")
    settings = Settings(_env_file=None, bot_token="1:x")
    assert [(p.id, p.stars, p.credits) for p in settings.payments.packs] == [("tiny", 5, 40)]
    assert settings.payments.auto_refund_hours == 0


@pytest.mark.parametrize("locale", ["ja", "en"])
def test_keys_built_at_run_time_exist(locale: str) -> None:
    translator = Translator()
    keys = [f"pay-refused-{r.value}" for r in CheckoutRefusal]
    keys += [f"pay-refund-refused-{r.value}" for r in RefundRefusal]
    keys += [f"pay-sub-update-{s.value}" for s in SubscriptionState]
    missing = [k for k in keys if not translator.has(locale, k)]
    assert missing == []


PACK = Item(ItemKind.PACK, "small", 50, 500)
PLAN = Item(ItemKind.SUBSCRIPTION, "monthly", 250, 3000, 2_592_000)
OLD_PLAN = Item(ItemKind.SUBSCRIPTION, "monthly", 200, 2500, 2_592_000)  # an earlier version


@pytest.mark.parametrize(
    ("payload", "currency", "amount", "renewal", "subscribed", "flag"),
    [
        (PACK.payload, "XTR", 50, False, None, None),
        (PACK.payload, "USD", 50, False, None, ChargeFlag.CURRENCY),
        ("mystery", "XTR", 50, False, None, ChargeFlag.PAYLOAD),
        (PACK.payload, "XTR", 0, False, None, ChargeFlag.AMOUNT),
        (PACK.payload, "XTR", -50, False, None, ChargeFlag.AMOUNT),
        (PACK.payload, "XTR", 49, False, None, ChargeFlag.AMOUNT),
        (
            Item(ItemKind.PACK, "small", 50, 99_999_999).payload,
            "XTR",
            50,
            False,
            None,
            ChargeFlag.TERMS,
        ),
        (Item(ItemKind.PACK, "gone", 50, 500).payload, "XTR", 50, False, None, ChargeFlag.ITEM),
        # A renewal at the terms the subscriber signed up to, after the price changed: credited.
        (OLD_PLAN.payload, "XTR", 200, True, OLD_PLAN.payload, None),
        # ...but not a first payment at old terms, nor a renewal of terms never subscribed to.
        (OLD_PLAN.payload, "XTR", 200, False, None, ChargeFlag.TERMS),
        (OLD_PLAN.payload, "XTR", 200, True, PLAN.payload, ChargeFlag.TERMS),
    ],
)
def test_a_charge_is_checked_against_the_catalogue_version_of_its_invoice(
    payload: str,
    currency: str,
    amount: int,
    renewal: bool,
    subscribed: str | None,
    flag: ChargeFlag | None,
) -> None:
    _, found = check_charge(
        Catalogue(PaymentsSettings()),
        payload=payload,
        currency=currency,
        total_amount=amount,
        renewal=renewal,
        subscribed_payload=subscribed,
    )
    assert found == flag
