# Core: start, help, language, privacy, errors.
bot-description =
    Libral is an AI chat bot whose history belongs to you.
    Every record is encrypted to your own OpenPGP key and delivered to your own group; the server keeps nothing personal for more than 24 hours.
bot-short-description = Privacy-first AI chat, encrypted to your own key.

cmd-start = Get started
cmd-help = How to use the bot
cmd-language = Choose the language
cmd-privacy = What is kept, and for how long

language-name = English
start-greeting =
    Hello, { $name }. Welcome to Libral.
    You can talk with AI models here; your records are encrypted to your own key and kept in your own group.
    First, pick a language.
help-text =
    <b>How to use Libral</b>
    { $commands }

    Send a message and the AI answers.
language-prompt = Choose the language for the bot.
language-changed = Switched to English.
language-changed-long = The bot now speaks English. See /help for what it can do.

privacy-summary =
    <b>What Libral keeps</b>
    • For as long as you use it: your Telegram user id, settings such as your language, your public key, the encrypted link to your group, your credit balance and the payment ledger (ids and amounts only).
    • For at most 24 hours: the AI conversation context (encrypted), ciphertext of records not yet delivered, one-time tokens. They are deleted automatically after 24 hours.
    • In your group: every record is signed by the server and encrypted to your key before it arrives. The operator cannot read it.
    • /forget deletes your central data at once (the credit balance and the payment ledger stay).
    The full list is in docs/privacy.md in the repository.

error-generic = Sorry, something went wrong while handling that. Please try again in a moment.
error-throttled = That was a bit fast. Please wait a few seconds before sending more.
error-button-expired = This button has expired. Please start again from the command.
error-unknown-command = There is no command { $command }. See /help for the commands you can use.
error-text-not-understood = I got your message but cannot answer it right now. See /help.
error-unsupported-message = I can't handle this kind of message yet. Please send text.
