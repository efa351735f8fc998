# Personal log server: onboarding, status, group panel, delivery notices.
cmd-logserver = Your personal log server (encrypted history)

logserver-intro =
    <b>Your personal log server</b>
    Your history is kept in your own Telegram group, encrypted to your own key. The server keeps nothing personal for more than 24 hours.

    Bots cannot create groups, so:
    1. Press the button below and choose <b>Create a new group</b> (or pick one of yours). It must have <b>Topics</b> turned on: Group settings → Topics.
    2. Telegram adds me as an administrator with only three rights: manage topics, delete messages and pin messages.
    Best use a group with nobody else in it.
logserver-btn-pick-group = Choose or create my log group
logserver-link-intro = If the button does not work in your Telegram app, add me with this link instead (it works once, for 10 minutes):
logserver-btn-startgroup = Add the bot to my group

logserver-check-not-found = I cannot see that group. Add me to it as an administrator, then try again.
logserver-check-not-supergroup = That is a basic group. Turn on <b>Topics</b> in its settings (this makes it a supergroup), then pick it again.
logserver-check-not-forum = That group has no topics. Open Group settings → <b>Topics</b>, turn them on, then pick it again.
logserver-check-user-not-admin = Only the owner or an administrator of the group can make it a log server. Ask its owner, or use a group of your own.
logserver-check-bot-not-admin = I am not an administrator there. Group settings → Administrators → Add administrator → choose me, with the rights manage topics, delete messages and pin messages.
logserver-check-bot-missing-rights = I am an administrator there but lack: { $rights }. Group settings → Administrators → choose me and turn these on, then press “Check again”.
logserver-check-already-linked = That group is already the log server of another account. Use a group of your own.
logserver-warn-other-members = Note: { $count -> 
        [one] one other person is
       *[other] { $count } other people are
    } in this group. They cannot read your records (only your key can), but they see when you use the bot. A group with only you is better.
logserver-warn-extra-rights = Note: I have more rights than I need ({ $rights }). You can take them away: Group settings → Administrators → choose me.
logserver-warn-cannot-pin = Note: I may not pin messages there, so the control panel is not pinned. Give me the “pin messages” right to have it pinned.

logserver-right-can-manage-chat = manage the group
logserver-right-can-delete-messages = delete messages
logserver-right-can-manage-video-chats = manage video chats
logserver-right-can-restrict-members = ban users
logserver-right-can-promote-members = add administrators
logserver-right-can-change-info = change group info
logserver-right-can-invite-users = invite users
logserver-right-can-post-stories = post stories
logserver-right-can-edit-stories = edit stories
logserver-right-can-delete-stories = delete stories
logserver-right-can-send-welcome-messages = send welcome messages
logserver-right-can-post-messages = post messages
logserver-right-can-edit-messages = edit messages
logserver-right-can-pin-messages = pin messages
logserver-right-can-manage-topics = manage topics
logserver-right-can-manage-direct-messages = manage direct messages
logserver-right-can-manage-tags = manage tags

logserver-bound = Linked to the group “{ $title }”.
logserver-group-bound-here = Linked. Please continue in your private chat with me.
logserver-key-prompt =
    Now your key. Send me your OpenPGP <b>public</b> key, as text or as an .asc file (for example from <code>gpg --export --armor you@example.org</code>).
logserver-key-accepted = Key accepted. Fingerprint: <code>{ $fingerprint }</code>
logserver-key-not-expected = I was not waiting for a key. Use /logserver to set up your log server or change its key.
logserver-key-secret-refused = That was a <b>secret</b> key. I deleted your message and did not keep it. Never share a secret key: send the <b>public</b> key instead (<code>gpg --export --armor</code>, not --export-secret-keys). If others might have seen it, make a new key.
logserver-key-secret-not-deleted = That was a <b>secret</b> key. I did not keep it, but I could <b>not</b> delete your message: delete it yourself now. Telegram has stored it, so treat the key as exposed: revoke it and make a new one, then send me only the <b>public</b> key.
logserver-key-not-openpgp = That is not an OpenPGP public key. Send the text that starts with “-----BEGIN PGP PUBLIC KEY BLOCK-----”, or the .asc file.
logserver-key-secret-key = That was a secret key; send the public key instead.
logserver-key-multiple-keys = That contains several keys. Send exactly one public key.
logserver-key-expired = That key has expired. Extend its expiry date (gpg --quick-set-expire) or make a new key, then send it again.
logserver-key-revoked = That key is revoked. Send a key that is still valid, or make a new key on your device (/logserver).
logserver-key-no-encryption-subkey = That key cannot encrypt (it has no valid encryption subkey). Add one (gpg --quick-add-key) or use another key.
logserver-key-no-signing-key = That key has no valid signing key. Use another key.
logserver-key-weak-algorithm = That key uses a weak algorithm (for example RSA under 2048 bits). Please make a modern key (Ed25519/Curve25519) or make a new key on your device (/logserver).
logserver-key-unsupported = This kind of key is not supported here. Please use an Ed25519/Curve25519 or RSA key, or make a new key on your device (/logserver).
logserver-key-too-large = That file is too large for a public key. Send only your public key.
logserver-key-bad-passphrase = That key could not be unlocked. Send your public key instead.

logserver-setup-done = Your log server in “{ $title }” is ready: topics created, an encrypted setup record sent and the control panel pinned. /logserver shows its status.
logserver-setup-failed = I could not create the topics or post the control panel. Check that I am an administrator with “manage topics”, then use /logserver → “Check again”.

logserver-topic-chat = Conversations
logserver-topic-billing = Billing
logserver-topic-audit = Audit
logserver-topic-system = System
logserver-topic-rooms = Rooms
logserver-topic-concierge = Concierge

logserver-state-active = active
logserver-state-paused = paused
logserver-state-disconnected = disconnected
logserver-state-awaiting-key = waiting for your key
logserver-never = never
logserver-none = You have no log server. Use /logserver to set one up.
logserver-status =
    <b>Log server</b>
    Group: { $title }
    State: { $state }
    Key: <code>{ $fingerprint }</code>
    Topics: { $topics }
    Records waiting: { $queued }
    Last delivery: { $last }
logserver-reason-removed = I was removed from the group (or it was deleted). Add me back as an administrator: waiting records are kept for 24 hours.
logserver-reason-rights = I lost my administrator rights there. Give me back “manage topics” and “delete messages”.
logserver-reason-topic = A topic of the log server was deleted. Press “Check again” to create it anew.
logserver-btn-recheck = Check again
logserver-btn-change-key = Change key
logserver-btn-disconnect = Disconnect
logserver-btn-confirm-disconnect = Yes, disconnect
logserver-btn-cancel = Cancel
logserver-recheck-ok = The group is in order.
logserver-rotate-prompt = Send me your new <b>public</b> key (text or .asc file). New records will be encrypted to it; earlier ones stay readable with the old key.

logserver-panel =
    <b>Libral log server</b>
    Logging: { $state }
    Key: <code>{ $fingerprint }</code>
    Only the owner can use these buttons.
logserver-btn-pause = Pause logging
logserver-btn-resume = Resume logging
logserver-btn-test = Send a test record
logserver-btn-rotate = Change key
logserver-btn-purge = Purge my central data now
logserver-btn-confirm-purge = Yes, purge now
logserver-confirm-purge = This deletes everything about you that the server keeps for up to 24 hours: the AI conversation context and records not delivered yet. It cannot be undone.
logserver-confirm-disc = This unlinks the group, deletes records not delivered yet, and I leave the group. Your records in the group stay.
logserver-only-owner = Only the owner of this log server can use its buttons.
logserver-panel-orphan = This group is no longer a log server.
logserver-paused = Logging paused: nothing is recorded until you resume.
logserver-resumed = Logging resumed.
logserver-not-active = The log server is not active right now. See /logserver in private chat.
logserver-test-queued = Test record queued; it arrives in the System topic shortly.
logserver-test-paused = Logging is paused: resume it to send a test record.
logserver-rotate-asked = I asked for the new key in our private chat.
logserver-open-private = Open a private chat with me first (press Start there), then try again.
logserver-purged = Purged: { $count -> 
        [one] one item
       *[other] { $count } items
    } deleted from the server.
logserver-disconnected-done = Log server disconnected. { $count -> 
        [0] Nothing was waiting.
        [one] One undelivered record was deleted.
       *[other] { $count } undelivered records were deleted.
    } Use /logserver to set up a new one.
logserver-group-goodbye = This group is no longer a Libral log server. The records here stay yours.

logserver-token-invalid = This link has expired or was already used. Open /logserver in private chat with me for a new one.
logserver-token-wrong-user = This link belongs to someone else. Open /logserver in your private chat with me to get your own.

logserver-disconnected-removed = Your log server is disconnected: I was removed from the group, or it was deleted. Records wait for up to 24 hours: add me back as an administrator (manage topics, delete messages, pin messages) and delivery resumes.
logserver-disconnected-rights = Your log server is disconnected: I am no longer an administrator with “manage topics” and “delete messages” there. Give me those rights back and delivery resumes; records wait for up to 24 hours.
logserver-disconnected-topic = Your log server is paused: one of its topics was deleted. Use /logserver → “Check again” to create it again.
logserver-reconnected = Your log server is connected again. { $count -> 
        [0] Nothing was waiting.
        [one] One waiting record is being delivered.
       *[other] { $count } waiting records are being delivered.
    }
logserver-records-lost = { $count -> 
        [one] One record
       *[other] { $count } records
    } could not be delivered to your log server within 24 hours and { $count -> 
        [one] was
       *[other] were
    } deleted. Use /logserver to check the group.
