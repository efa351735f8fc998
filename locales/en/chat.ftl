# AI chat: replies, models, personas, balance, usage, your own API keys.
cmd-model = Choose the AI model
cmd-new = Start a new conversation
cmd-persona = Choose a persona (style)
cmd-balance = Credit balance
cmd-usage = AI usage
cmd-apikey = Use your own API key

chat-button-stop = ⏹ Stop
chat-button-exclude = 🚫 Drop from context
chat-stopped-suffix = _(stopped)_
chat-failed-suffix = _(interrupted)_

chat-no-credits =
    Not enough credits to start this reply.
    A minimal reply needs { $needed } credits; your balance is { $balance } credits.
    Buy credits, or add your own API key with /apikey.
chat-no-credits-nopay =
    Not enough credits to start this reply (needed: { $needed }, balance: { $balance }).
    Add your own API key with /apikey to chat without credits.
chat-no-model =
    No AI model is available right now. Please wait until the operator sets up a provider, or add your own API key with /apikey.
chat-empty = The model returned an empty answer. No credits were used. Please try rephrasing.
chat-failed-auth = { $model } rejected the credentials. No credits were used. If you use your own key, check it with /apikey.
chat-failed-quota = { $model } has used up its quota. No credits were used.
chat-failed-rate-limit = { $model } is busy (rate limit). No credits were used. Please try again in a moment.
chat-failed-unavailable = { $model } could not be reached. No credits were used.
chat-failed-refused = { $model } declined to answer this. No credits were used.
chat-failed-timeout = { $model } did not answer in time. No credits were used.
chat-failed-bad-request = { $model } did not accept this request. No credits were used.
chat-failed-try-other = You can try again with another model:
chat-excluded = This question and its answer are no longer part of the context.
chat-exclude-gone = This reply is no longer in the context (24 hours have passed, or you started a new conversation).
chat-stop-gone = This reply has already finished.
chat-new-done = New conversation started. The previous context was deleted from the server.
chat-group-empty = Please write your question after the mention or /ask.

chat-persona-assistant = Assistant
chat-persona-concise = Concise
chat-persona-teacher = Teacher
chat-persona-coder = Engineer
chat-persona-translator = Translator (JA⇔EN)
chat-persona-custom = My own
chat-persona-prompt =
    Choose a persona (how the AI talks). Now: “{ $current }”.
    To write your own, send <code>/persona your instructions</code> (up to { $max } characters, stored encrypted).
chat-persona-set = Persona set to “{ $name }”.
chat-persona-too-long = The instructions are too long (up to { $max } characters).
chat-persona-unknown = There is no such persona.

chat-model-prompt = Choose the AI model. Now: <b>{ $current }</b>.
chat-model-set = Model set to <b>{ $name }</b>.
chat-model-unavailable = That model is not available right now.
chat-model-default-set = Everyone's default model is now <b>{ $name }</b>.
chat-model-button-default = ⭐ Make this everyone's default
chat-model-price = Price per million tokens: input { $input } / output { $output } credits
chat-model-own-key = Runs on your own API key (no credits used)

chat-balance =
    <b>Balance</b>: { $balance } credits
    Free allowance left today: { $free } / { $daily } credits
chat-usage =
    <b>AI usage</b>
    Today: { $today_replies } replies, { $today_tokens } tokens, { $today_cost } credits
    This month: { $month_replies } replies, { $month_tokens } tokens, { $month_cost } credits
chat-usage-model = • { $model }: { $replies } replies, { $tokens } tokens, { $cost } credits
chat-usage-none = No usage this month yet.

chat-apikey-help =
    With your own API key, that provider's models cost no credits.
    Send <code>/apikey KEY</code> (OpenAI sk-…, Anthropic sk-ant-… and Gemini AIza… keys are recognised). Otherwise name the provider: <code>/apikey anthropic KEY</code>.
    The key is checked with one cheap call, then stored encrypted; the message containing it is deleted.
    Remove: <code>/apikey remove</code> (all) or <code>/apikey remove openai</code>
    Added: { $providers }
chat-apikey-none = none
chat-apikey-saved = Your { $provider } key works and is stored. Replies from this provider use no credits.
chat-apikey-invalid = { $provider } did not accept this key. Nothing was stored.
chat-apikey-check-failed = Could not reach { $provider } to check the key. Nothing was stored; please try again later.
chat-apikey-unknown = Could not tell which provider this key is for. Name it: <code>/apikey openai KEY</code> (openai, anthropic, gemini).
chat-apikey-bad-shape = That does not look like an API key. Nothing was stored.
chat-apikey-removed = Removed your own API keys ({ $count }).
chat-apikey-group = Please do not send API keys in a group. The message was deleted; use /apikey in a private chat with the bot.
chat-apikey-group-not-deleted = Please do not send API keys in a group. I could <b>not</b> delete the message (I am not allowed to delete messages here), so everyone in the group can see the key: delete the message now and <b>revoke the key</b> at the provider, then add a new one with /apikey in a private chat with the bot.
chat-apikey-deleted = The message with the key was deleted.
chat-apikey-not-deleted = I could <b>not</b> delete the message with the key: delete it yourself now, and <b>revoke the key</b> at the provider if anyone else may have seen it.
