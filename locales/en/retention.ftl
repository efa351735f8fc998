# Retention: /forget.
cmd-forget = Delete my data now

forget-confirm =
    <b>Delete your data from the server now?</b>
    Deleted: the AI conversation context, records not yet delivered, the link to your log server (group) and your public key, API keys you added, settings such as your language.
    Kept: your user id, your credit balance and the payment ledger (ids and amounts only; refunds and your balance depend on them).
    The records already in your group are yours and stay there.
    These buttons work for { $minutes } minutes.
forget-button-confirm = Delete
forget-button-cancel = Cancel
forget-expired = This confirmation has expired or was already used. Please send /forget again.
forget-cancelled = Cancelled. Nothing was deleted.
forget-done =
    Deleted ({ $rows ->
        [one] one record
       *[other] { $rows } records
    }). The server now keeps only your user id, your credit balance and the payment ledger.
    To use a log server again, set it up anew.
