# The bot in a group: its introduction when added, /start and /help there, and commands that
# belong to the private chat (handlers/group_commands.py, handlers/rooms.py).
group-hello =
    Hello, I'm Libral, an AI assistant. In this group, mention me (@{ $bot }) or reply to one of my messages, or write /ask followed by your question.
    Your settings, balance and records stay in our private chat.
group-help =
    <b>Libral in a group</b>
    Mention me (@{ $bot }), reply to one of my messages, or write /ask followed by your question.
    /new starts a new conversation here.
    Your language, balance, models and records are set in our private chat: press the button below.
group-command-private = { $command } works in our private chat, so that what it shows stays between us. Press the button below to open it.
group-command-unknown = There is no command { $command }. In a group, mention me or use /ask; the other commands are in our private chat.
group-button-private = 💬 Open the private chat
