cmd-personas = Chat with a persona
cmd-end = End the persona chat

concierge-no-personas = No persona is available right now.
concierge-personas-intro = Personas you can chat with (each message costs the price shown):
concierge-persona-card = <b>{ $name }</b>
    { $bio }
    Traits: { $attributes }
    Price: { $price } credits per message
concierge-btn-chat = 💬 Chat
concierge-btn-skip-name = Skip
concierge-start-no-persona = That persona does not exist.
concierge-start-inactive = That persona is not available at the moment. Try /personas for the others.
concierge-start-no-desk = The concierge is not open yet. Please try again later.
concierge-start-desk-failed = I could not open the chat just now; nothing was charged. Please try again in a minute.
concierge-opened = You are now chatting with <b>{ $persona }</b> ({ $price } credits per message). What name should { $persona } call you? Send it, or press Skip. /end closes the chat.
concierge-name-skipped = All right. Write your message whenever you like.
concierge-name-saved = Thank you, { $name }. Write your message whenever you like.
concierge-end-none = You have no open persona chat. /personas lists the personas.
concierge-ended = Your chat with { $persona } is closed. If you have a log server, its transcript goes to your Concierge topic.
concierge-ended-by-persona = { $persona } closed the chat. If you have a log server, its transcript goes to your Concierge topic.
concierge-queued = ⏳ Many messages are waiting: yours is queued and will be delivered in order.
concierge-low-balance = Your balance ({ $balance } credits) does not cover this message ({ $price } credits). Nothing was charged or sent. Buy credits:
concierge-not-delivered = Your message could not be delivered, so it was not charged ({ $credits } credits given back). Please send it again.
concierge-msg-no-session = You have no open persona chat; your message was not sent. /personas lists the personas.
concierge-msg-unsupported = Only text, photos and stickers can be sent to a persona. Nothing was charged.
concierge-msg-no-desk = The concierge is closed right now; your message was not sent or charged.
concierge-name-fallback = there

concierge-desk-ended-by-user = ⚫ The user ended the chat.
concierge-desk-ended-by-staff = ⚫ Closed by staff.
concierge-desk-draft = ✨ AI draft (copy and edit it, or send it as is):

    { $text }
concierge-desk-not-staff = Only staff can answer here; nothing was relayed.
concierge-desk-closed = This session is closed; nothing was relayed.
concierge-desk-unsupported = Only text, photos and stickers are relayed.
concierge-desk-blocked = Not delivered: the user blocked the bot.
concierge-desk-failed = Not delivered: Telegram refused it. Try again.
concierge-desk-no-session = This topic has no session any more.
concierge-desk-draft-failed = No AI draft now (no model configured or the provider failed). Write the reply yourself.
concierge-drafting = Drafting…
concierge-press-no-session = This session no longer exists.
concierge-press-closed = The session is closed.
concierge-press-taken = Another staff member has claimed this session.
concierge-press-claimed = You claimed this session.
concierge-press-not-claimed = Nobody has claimed this session.
concierge-press-released = Released: anyone may answer.
concierge-press-no-template = That template was deleted.
concierge-press-delivered = Sent to the user.
concierge-press-blocked = Not delivered: the user blocked the bot.
concierge-press-failed = Not delivered: Telegram refused it.
concierge-press-duplicate = Already sent.
concierge-btn-claim = 🙋 Claim
concierge-btn-release = ↩️ Release
concierge-btn-close = ✖️ Close
concierge-btn-draft = ✨ AI draft
concierge-btn-send-draft = 📤 Send as is

concierge-staff-menu = <b>Concierge</b> — personas, templates and the queue of sessions waiting for a reply.
concierge-btn-personas = 🎭 Personas
concierge-btn-new-persona = ➕ New persona
concierge-btn-templates = 📋 Templates
concierge-btn-new-template = ➕ New template
concierge-btn-queue = ⏳ Unanswered
concierge-btn-link-desk = 🔗 Link the staff desk
concierge-btn-back = ‹ Back
concierge-btn-persona-state = { $state ->
        [on] 🟢
       *[off] ⚪
    } { $name }
concierge-btn-delete-template = 🗑 { $title }
concierge-btn-skip-avatar = No avatar
concierge-btn-staff-role = 🎭 Staff role on/off
concierge-btn-pick-desk = Pick the staff forum
concierge-staff-personas = { $count } personas. Tap one to switch it on or off.
concierge-persona-on = { $name } is available again.
concierge-persona-off = { $name } is switched off: nobody can start a chat with it.
concierge-ask-persona-name = The persona's name?
concierge-ask-persona-bio = A short bio users see in /personas?
concierge-ask-persona-attributes = Traits (tone, interests), or - for none?
concierge-ask-persona-price = Price in credits per user message (0 to { $max })?
concierge-ask-persona-avatar = Send the avatar as a photo, or press “No avatar”.
concierge-invalid-name = The name must be 1 to { $limit } characters.
concierge-invalid-bio = The bio must be 1 to { $limit } characters.
concierge-invalid-attributes = The traits must be at most { $limit } characters.
concierge-invalid-price = The price must be a whole number from 0 to { $max }.
concierge-persona-incomplete = That persona was incomplete; start again with “New persona”.
concierge-persona-saved = Persona <b>{ $name }</b> saved ({ $price } credits per message). Its link: { $link }
concierge-staff-templates = { $count } templates. Tap one to delete it. In a template, {"{"}name{"}"} becomes the name the user gave.
concierge-ask-template-title = The template's short title (it is the button's label)?
concierge-ask-template-body = The template's text? {"{"}name{"}"} becomes the name the user gave.
concierge-invalid-template = The title must be 1 to { $title } characters and the text not empty. Send the title again.
concierge-template-saved = Template “{ $title }” saved.
concierge-template-deleted = Template deleted.
concierge-template-gone = That template was already deleted.
concierge-queue-empty = No session is waiting for a reply.
concierge-queue = <b>{ $count } waiting</b>, longest first:
concierge-queue-line = • { $persona } · { $pseudonym } — { $minutes } min
concierge-role-granted = User { $id } is now staff.
concierge-role-revoked = User { $id } is no longer staff.
concierge-role-unchanged = Nothing changed (operators keep their role).
concierge-desk-intro = Pick the forum supergroup where staff answer. It is checked as a log server is: topics on, you an administrator, me an administrator with the rights to manage topics and delete and pin messages. Staff see there what users write to personas, never who they are.
concierge-desk-linked = <b>{ $title }</b> is the staff desk now. Each chat gets a topic there.
