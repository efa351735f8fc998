# AI rooms: people and the AI together in a group or forum topic (docs/rooms.md).

rooms-role-reader = Reader
rooms-role-guest = Guest
rooms-role-member = Member
rooms-role-admin = Admin
rooms-role-master = Master

rooms-none = This group has no AI room yet. Send /room to set one up.
rooms-is-logserver = This group is a personal log server; it cannot be an AI room.
rooms-already = This group already has an AI room. Send /room to see it.
rooms-setup-offer =
    <b>AI room</b>
    People here can talk with the AI together: the room has roles, a daily budget and its own conversation per topic.
    The person who sets it up becomes the room's <b>Master</b>: their credits pay for the answers (members with their own API key pay nothing from them).
    The group's creator, or whoever added me, can set it up.
rooms-button-setup = ✅ Set up (I'll be the Master)
rooms-setup-only = Only the group's creator or the person who added the bot can set up the room.
rooms-setup-done = The room is set up. You are its Master.

rooms-panel-title = <b>AI room</b>
rooms-panel-master = Master: { $name } (their credits pay)
rooms-panel-your-role = Your role: { $role }
rooms-panel-model = Model: { $model }
rooms-panel-persona = Persona: { $persona }
rooms-panel-budget = Daily budget: { $budget } credits · per member: { $cap }
rooms-panel-guests = Guests may ask: { $state } (up to { $quota } questions a day)
rooms-panel-trigger-mention = Answers when: mentioned, replied to, or /ask
rooms-panel-trigger-all = Answers when: every message the bot can see (needs admin rights or privacy mode off)
rooms-panel-newcomer = People without a role are: { $role }
rooms-panel-logged = 📒 Exchanges in this room are logged, encrypted, to the Master's log server (Rooms topic).
rooms-panel-not-logged = 📒 Exchanges in this room are not logged (the Master has no active log server).
rooms-master-unknown = the Master
rooms-unlimited = no limit
rooms-on = yes
rooms-off = no

rooms-button-model = 🧠 Model
rooms-button-persona = 🎭 Persona
rooms-button-budget = 💰 Daily budget
rooms-button-cap = 👤 Per-member cap
rooms-button-guests = 🚪 Guests may ask
rooms-button-quota = 🎟 Guest quota
rooms-button-trigger = 🔔 When to answer
rooms-button-newcomer = 🆕 Newcomers' role
rooms-button-roles = 👥 Roles
rooms-button-usage = 📊 Usage
rooms-button-back = ← Back
rooms-button-accept = ✅ Accept
rooms-button-decline = ✖ Decline
rooms-button-regenerate = 🔄 Regenerate
rooms-button-exclude = 🚫 Drop from context
rooms-button-start-bot = Open the bot
rooms-button-stale = This button belongs to another room or to a room that no longer exists.

rooms-pick-model = Choose the model for everyone in this room:
rooms-pick-persona = Choose the persona for everyone in this room:
rooms-pick-budget = Credits the whole room may spend per day (UTC):
rooms-pick-cap = Credits one member may spend per day (UTC):
rooms-pick-quota = Questions a Guest may ask per day (UTC):
rooms-saved = Saved.
rooms-value-invalid = That choice is not available.
rooms-roles-help =
    <b>Roles</b>
    Reader: sees, cannot ask the AI · Guest: asks within the daily quota, when the room lets Guests ask · Member: asks · Admin: manages roles and settings, /new · Master: sets the budget, hands the room over, pays.
    To give someone a role, reply to one of their messages with <code>/role member</code> (or reader, guest, admin).
    The Master hands the room over by replying to someone's message with <code>/room handover</code>.

rooms-denied = Not allowed for your role ({ $role }) in this room.
rooms-role-how = Reply to a message of the person with <code>/role reader</code>, <code>guest</code>, <code>member</code> or <code>admin</code>.
rooms-role-refused = You cannot change the role of someone who is { $role }, or give a role as high as yours.
rooms-role-set = { $name } is now { $role } in this room.

rooms-handover-how = Reply to a message of the new Master with <code>/room handover</code>.
rooms-handover-offer = { $name }, the Master offers you this room. As Master, your credits pay for its answers. Accept?
rooms-handover-not-you = Only the person the room was offered to can accept it.
rooms-handover-expired = This offer has expired.
rooms-handover-declined = The hand-over was declined.
rooms-handover-done = { $name } is now the Master of this room. The former Master stays as Admin.
rooms-handover-done-short = You are now the Master.

rooms-new-done = This topic's conversation was cleared. The AI starts over here.
rooms-waiting = ⏳ Waiting for the AI — { $ahead } ahead of you.
rooms-regenerating = Regenerating…
rooms-regenerate-gone = That answer can no longer be regenerated (it has left the conversation).
rooms-excluded = Dropped from the room's context.
rooms-private-start = To get answers privately, open @{ $bot } and press Start once, then ask again with /private.

rooms-refused-guests-off = Guests may not ask the AI in this room. Nothing was charged.
rooms-refused-guest-quota = You have used today's Guest quota ({ $used } of { $allowed } questions). Nothing was charged.
rooms-refused-room-budget = The room's daily budget is used up ({ $used } of { $allowed } credits). Nothing was charged; it renews at 00:00 UTC.
rooms-refused-member-cap = You have reached your daily cap in this room ({ $used } of { $allowed } credits). Nothing was charged.
rooms-refused-no-credits = The room's Master does not have enough credits for this answer (needed: { $needed }, balance: { $balance }). Nothing was charged.
rooms-refused-busy = The AI is busy with other questions in this room. Please ask again in a moment.

rooms-usage-title = <b>Room usage today</b>: { $cost } credits, { $replies } answers (budget: { $budget })
rooms-usage-own-title = <b>Your usage in this room today</b> (the room: budget { $budget })
rooms-usage-line = { $name }: { $replies } answers, { $cost } credits
rooms-usage-none = Nothing yet today.
