# The admin panel (/admin) and the notice for banned users.
admin-na = —
admin-ok = OK
admin-down = unreachable
admin-yes = yes
admin-no = no

admin-btn-back = « Back
admin-btn-stats = 📊 Stats
admin-btn-users = 👤 Users
admin-btn-payments = ⭐ Payments
admin-btn-payments-off = ⭐ Payments (unavailable)
admin-btn-broadcast = 📣 Broadcast
admin-btn-system = 🛠 System
admin-btn-chart = 📈 Chart
admin-btn-refresh = 🔄 Refresh
admin-btn-grant = ➕ Grant credits
admin-btn-deduct = ➖ Deduct credits
admin-btn-ban = 🚫 Ban
admin-btn-unban = ✅ Unban
admin-btn-another-user = 🔎 Another user
admin-btn-confirm = ✅ Do it
admin-btn-cancel = ✖ Cancel
admin-btn-aud-all = Everyone
admin-btn-aud-ja = Japanese users
admin-btn-aud-en = English users
admin-btn-aud-active = Active in the last { $days } days
admin-btn-aud-days = Other number of days…
admin-btn-bc-edit = ✏️ Rewrite the text
admin-btn-purge = 🧹 Purge now
admin-btn-purge-off = 🧹 Purge now (unavailable)
admin-btn-refund = Refund #{ $id } ({ $stars } ⭐)
admin-btn-prev = « Previous
admin-btn-next = Next »

admin-menu =
    <b>Admin panel</b>
    Pick an action. Every action is recorded in the audit trail.

admin-stats =
    <b>Stats</b>
    Users: { $total } ({ $new } new today)
    Active: { $active24 } in 24 hours / { $active7 } in 7 days
    Messages today: { $messages }, tokens: { $tokens }
    Stars revenue: { $revenue_today } today / { $revenue_30 } in 30 days
    Log servers connected: { $logservers }
    Queue depth: { $queue }
admin-chart-caption =
    Active users (blue line) and Stars revenue (bars) over the last { $days } days.
    { $active } user-days in total, peak { $peak } a day, revenue { $revenue } ⭐ (UTC).
admin-chart-title = Active users and revenue, { $start } – { $end } (UTC)
admin-chart-active = Active users (per day)
admin-chart-revenue = Stars revenue (XTR)

admin-users-prompt = Send the user's id (a number) or their @username in this chat.
admin-lookup-malformed = That is neither a user id nor an @username.
admin-lookup-not-found = No such user. Only people who have used the bot can be found.
admin-card-none = none
admin-card-lang-derived = { $lang } (from the Telegram app; not chosen)
admin-status-active = active
admin-status-banned = banned
admin-status-blocked_bot = blocked the bot
admin-card =
    <b>User { $id }</b>
    Language: { $lang }
    Joined: { $joined } (last seen { $seen })
    Balance: { $balance } credits
    Status: { $status } (role { $role })
    Subscription: { $subscription }
    Log server connected: { $logserver }

admin-grant-prompt = Send the number of credits to grant to user { $id } (balance now { $balance }).
admin-deduct-prompt = Send the number of credits to deduct from user { $id } (balance now { $balance }).
admin-amount-invalid = Please send a whole number of credits, 1 or more.
admin-deduct-too-much = Cannot deduct { $amount } from a balance of { $balance }. Send a number no larger than the balance.
admin-confirm-grant = Grant <b>{ $amount }</b> credits to user { $id }? The balance goes from { $before } to { $after }.
admin-confirm-deduct = Deduct <b>{ $amount }</b> credits from user { $id }? The balance goes from { $before } to { $after }.
admin-granted = Granted { $amount } credits. New balance: { $balance }
admin-deducted = Deducted { $amount } credits. New balance: { $balance }
admin-confirm-ban = Ban user { $id }? They will no longer be able to send messages, press buttons or pay, and will see a notice that they are banned each time. Continue?
admin-ban-admin-refused = Operators cannot be banned.
admin-banned = The user is banned.
admin-unbanned = The ban is lifted.
admin-not-banned = This user is not banned.
admin-confirm-stale = This confirmation button is no longer valid. Please start the action again.

admin-payments-unavailable = Payments are not enabled yet, so the payment list and refunds are unavailable.
admin-payments =
    <b>Recent payments</b> (page { $page })
    { $lines }
admin-payment-line = #{ $id } user { $user }: { $stars } ⭐ on { $date } { $refunded }
admin-payment-refunded = (refunded)
admin-payments-empty = No payments yet.
admin-confirm-refund = Refund payment #{ $id }? The Stars go back to the user and the credits it bought are taken back. Continue?
admin-refunded = Payment #{ $id } ({ $stars } ⭐, user { $user }) is refunded.
admin-refund-refused = The refund was not made: { $reason }
admin-refund-reason-not-found = there is no such payment.
admin-refund-reason-already-refunded = this payment was refunded already.
admin-refund-reason-window-passed = the refund period has passed.
admin-refund-reason-credits-used = the credits it bought have been used.
admin-refund-reason-telegram-refused = Telegram refused the refund; please try again later.

admin-bc-prompt = Send the text to broadcast (bold, links and other formatting are kept; at most { $limit } characters).
admin-bc-text-only = Only text can be broadcast. Please send the text as a message.
admin-bc-too-long = The text is too long ({ $length } characters, at most { $limit }). Please shorten it and send it again.
admin-bc-preview =
    <b>Preview</b> (recipients will see this)
    ───
    { $text }
    ───
    Choose who receives it.
admin-aud-all = everyone
admin-aud-locale = users whose language is { $lang }
admin-aud-active = users active in the last { $days } days
admin-days-prompt = Users active within how many days should receive it? Send a number from 1 to { $max }.
admin-days-invalid = Please send a whole number from 1 to { $max }.
admin-bc-nobody = Nobody matches the audience ({ $audience }).
admin-bc-confirm =
    <b>Confirm the broadcast</b>
    To: { $audience } ({ $count } people)
    Sent at most { $rate } messages a second; people who blocked the bot are skipped and marked. This cannot be undone.
    ───
    { $text }
    ───
    Send it?
admin-bc-started = Broadcast #{ $id } started ({ $count } people). Its progress is shown in a separate message.
admin-bc-progress = 📣 Broadcast #{ $id }: { $done } of { $total } handled (sent { $sent }, blocked { $blocked }, failed { $failed })
admin-bc-report =
    📣 Broadcast #{ $id } is finished.
    Sent { $sent }, had blocked the bot { $blocked }, failed { $failed } ({ $total } people).
admin-bc-expired =
    📣 Broadcast #{ $id } was stopped: it did not finish within 24 hours.
    Sent { $sent }, blocked { $blocked }, not sent or failed { $failed } ({ $total } people).

admin-system =
    <b>System</b>
    Database: { $db }
    Redis: { $redis }
    Queue depth: { $queue }
    Scheduled jobs:
    { $jobs }
    AI providers:
    { $providers }
    Version: { $version }, uptime: { $uptime }
admin-sys-redis-off = not configured (in-process memory)
admin-sys-job = • { $name }: next run { $next } UTC ({ $failures } failures)
admin-sys-provider = • { $name }: { $state }
admin-sys-none = • none
admin-purge-unavailable = Purging is not enabled yet, so this button does nothing for now.
admin-confirm-purge = Delete all temporary data past its 24-hour limit now? This cannot be undone.
admin-purged = Purged { $count } expired rows.
admin-purge-failed = Part of the purge failed. Check the logs and try again.

ban-notice = This account is banned and cannot use the bot. If you think this is a mistake, please contact the operators.

admin-btn-attention = ⚠️ Payments that need a person
admin-attention =
    <b>Payments that need a person</b>
    { $lines }
admin-attention-empty = Nothing needs a person: no refund requests waiting, every charge is credited.
admin-attention-line = #{ $id } user { $user }: { $stars } ⭐ on { $date }: { $reason }
admin-attention-refund-requested = the user asked for a refund the policy could not grant
admin-attention-flagged = charged but not credited ({ $detail }): it does not match the catalogue
admin-attention-credit-pending = charged and recorded; the credit is not applied yet
admin-attention-reconciled = found by reconciliation (the payment never reached us) and credited
admin-refund-shortfall = { $shortfall } credits of it had been used already and could not be taken back.
admin-refund-user-told = The user has been told.
admin-refund-user-not-told = The user could not be told (Telegram refused the message).
