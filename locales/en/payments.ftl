# Stars payments: /buy, /subscription, /paysupport, /terms, receipts, refunds.
cmd-buy = Buy credits
cmd-subscription = Your monthly plan
cmd-paysupport = Payment support and refunds
cmd-terms = Terms of payment

pay-buy-intro =
    <b>Buy credits</b> with Telegram Stars
    Your balance: { $balance } credits
    Pick a pack and an invoice arrives. The monthly plan adds credits every 30 days.
pay-buy-empty = Nothing is on sale right now.
pay-pack-button = { $credits } credits — ⭐{ $stars }
pay-sub-button = Monthly: { $credits } credits a month — ⭐{ $stars }/month
pay-pack-title = { $credits } credits
pay-pack-description = { $credits } credits for AI chat. Credits do not expire.
pay-price-label = { $credits } credits
pay-sub-title = Libral monthly plan
pay-sub-description = { $credits } credits every 30 days, renewed automatically until you cancel.
pay-sub-link-text = Use the button below to subscribe to the monthly plan (⭐{ $stars } a month, { $credits } credits each month).
pay-sub-link-button = Subscribe ⭐{ $stars }/month
pay-disabled = Payments are not available right now. Please try again later.
pay-item-gone = This item is no longer on sale. Please choose again from /buy.
pay-invoice-failed = Could not create the invoice. Please try again in a moment.

pay-refused-unknown-item = This item does not exist. Please choose again from /buy.
pay-refused-stale = The price or contents have changed. Please open a new invoice from /buy.
pay-refused-banned = This account cannot make purchases.
pay-refused-already-subscribed = You are already subscribed to the monthly plan. See /subscription.
pay-refused-disabled = Payments are not available right now.

pay-receipt-pack =
    Thank you for your payment (⭐{ $stars }).
    { $credits } credits added. Balance: { $balance } credits
pay-receipt-subscription =
    You are subscribed to the monthly plan (⭐{ $stars }).
    { $credits } credits added. Balance: { $balance } credits
    Next renewal: { $date }
pay-receipt-renewal =
    Your monthly plan was renewed (⭐{ $stars }).
    { $credits } credits added. Balance: { $balance } credits
    Next renewal: { $date }
pay-receipt-unknown = We received your payment but could not match it to an item. An operator will check and settle it; see /paysupport.

pay-sub-none = You are not subscribed to the monthly plan.
pay-sub-active =
    <b>Monthly plan</b>: active until { $date }
    { $credits } credits a month. It renews automatically at the end of the period.
pay-sub-canceled =
    <b>Monthly plan</b>: active until { $date }
    Renewal is off; the plan ends with this period.
pay-sub-failed =
    <b>Monthly plan</b>: active until { $date }
    The last renewal payment failed. Please check your payment in Telegram's settings.
pay-sub-cancel-button = Turn renewal off
pay-sub-resume-button = Turn renewal back on
pay-sub-subscribe-button = Subscribe to the monthly plan
pay-sub-cancel-done = Renewal is off. You can use the plan until { $date }.
pay-sub-resume-done = Renewal is back on. Next renewal: { $date }
pay-sub-edit-failed = Telegram did not accept the change. If you turned renewal off in Telegram itself, turn it back on there (Settings → My Stars); otherwise please try again in a moment.
pay-sub-not-current = You have no active monthly plan. You can subscribe from /buy.
pay-sub-update-active = Renewal of your monthly plan was turned back on (active until { $date }).
pay-sub-update-canceled = Renewal of your monthly plan was turned off. You can use it until { $date }.
pay-sub-update-failed = The renewal payment for your monthly plan failed. You can use it until { $date }.

pay-support-text =
    <b>Payment support</b>
    { $hours ->
        [0] An operator reviews every refund request.
       *[other] A refund is made at once, automatically, when you ask within { $hours } hours of the payment and have not used its credits. Otherwise an operator reviews it.
    }
    The full amount of Stars is returned and the credits it added are taken off your balance (the balance never goes below zero).
    See /terms for details.
pay-support-pick = Choose the payment you want refunded:
pay-support-none = You have no refundable payments from the last { $days } days.
pay-support-item = { $date } · ⭐{ $stars } · { $credits } credits
pay-refund-confirm = Refund ⭐{ $stars } and take { $credits } credits off your balance?
pay-refund-yes = Refund
pay-refund-no = Keep it
pay-refund-kept = Nothing was refunded.
pay-refund-done =
    ⭐{ $stars } refunded.
    { $reversed } credits taken off. Balance: { $balance } credits
pay-refund-refused-not-found = This payment could not be found.
pay-refund-refused-already-refunded = This payment has already been refunded.
pay-refund-refused-window-passed = More than { $hours } hours have passed since the payment, so it cannot be refunded automatically. We have asked an operator to review it.
pay-refund-refused-manual-only = We have received your refund request. An operator will review it.
pay-refund-refused-credits-used = Credits from this payment have already been used, so it cannot be refunded automatically. We have asked an operator to review it.
pay-refund-refused-telegram-refused = Telegram did not accept the refund. Please try again in a moment.
pay-refunded-notice =
    Refund of ⭐{ $stars } recorded.
    { $reversed } credits taken off. Balance: { $balance } credits
pay-refunded-shortfall = ({ $shortfall } credits had already been used and could not be taken back.)

pay-terms =
    <b>Terms of payment</b>
    • You pay with Telegram Stars. Credits you buy are used for AI chat and do not expire.
    • The monthly plan renews every 30 days and adds credits each time. You can turn renewal off at any time in /subscription; the plan stays active until the end of the period.
    • Refunds: { $hours ->
        [0] ask through /paysupport; an operator decides case by case.
       *[other] within { $hours } hours of a payment whose credits you have not used, /paysupport refunds it at once. Otherwise an operator decides case by case.
    } A refund returns the full amount; the credits it added are taken off, as far as your balance allows.
    • We keep only payment ids, amounts and times. A record of each payment is encrypted and delivered to the Billing topic of your log server.
    • Questions about payments: /paysupport
pay-receipt-pending = We received your payment; your credits are on the way. There is no need to pay again: if they do not arrive shortly, see /paysupport.
pay-reconciled =
    We found a payment of { $stars } ⭐ that had not reached us, and credited it: { $credits } credits added.
    Balance: { $balance } credits.
pay-refunded-by-admin =
    An operator refunded your payment of { $stars } ⭐; { $reversed } credits were taken back.
    Balance: { $balance } credits.
pay-credited-late =
    Your payment of { $stars } ⭐ is now credited: { $credits } credits added. Sorry for the delay.
    Balance: { $balance } credits.
