# AI チャット: 返答、モデル、ペルソナ、残高、利用状況、自分の API キー。
cmd-model = AI モデルを選ぶ
cmd-new = 新しい会話を始める
cmd-persona = ペルソナ（話し方）を選ぶ
cmd-balance = クレジット残高
cmd-usage = AI の利用状況
cmd-apikey = 自分の API キーを使う

chat-button-stop = ⏹ 停止
chat-button-exclude = 🚫 文脈から外す
chat-stopped-suffix = _（停止しました）_
chat-failed-suffix = _（中断しました）_

chat-no-credits =
    クレジットが足りないため、この返答を始められませんでした。
    最小限の返答に { $needed } クレジット必要ですが、残高は { $balance } クレジットです。
    クレジットを購入するか、/apikey で自分の API キーを登録してください。
chat-no-credits-nopay =
    クレジットが足りないため、この返答を始められませんでした（必要: { $needed }、残高: { $balance }）。
    /apikey で自分の API キーを登録すると、クレジットなしで使えます。
chat-no-model =
    いま使える AI モデルがありません。運営者がプロバイダーを設定するまでお待ちいただくか、/apikey で自分の API キーを登録してください。
chat-empty = モデルが空の返答を返しました。クレジットは消費していません。言い方を変えてもう一度お試しください。
chat-failed-auth = { $model } の認証に失敗しました。クレジットは消費していません。自分のキーを使っている場合は /apikey で確認してください。
chat-failed-quota = { $model } の利用枠を使い切っています。クレジットは消費していません。
chat-failed-rate-limit = { $model } が混み合っています（回数制限）。クレジットは消費していません。少し待ってからお試しください。
chat-failed-unavailable = { $model } に接続できませんでした。クレジットは消費していません。
chat-failed-refused = { $model } がこの内容への回答を拒否しました。クレジットは消費していません。
chat-failed-timeout = { $model } の応答が時間内に届きませんでした。クレジットは消費していません。
chat-failed-bad-request = { $model } がこの依頼を受け付けませんでした。クレジットは消費していません。
chat-failed-try-other = 別のモデルでもう一度試せます:
chat-excluded = この質問と返答を文脈から外しました。
chat-exclude-gone = この返答はもう文脈にありません（24 時間が過ぎたか、新しい会話を始めました）。
chat-stop-gone = この返答はもう終わっています。
chat-new-done = 新しい会話を始めました。これまでの文脈はサーバーから削除しました。
chat-group-empty = メンションや /ask の後に質問を書いてください。

chat-persona-assistant = アシスタント
chat-persona-concise = 簡潔
chat-persona-teacher = 先生
chat-persona-coder = エンジニア
chat-persona-translator = 翻訳（日⇔英）
chat-persona-custom = 自分で設定
chat-persona-prompt =
    ペルソナ（AI の話し方）を選んでください。いまは「{ $current }」です。
    自分で書くには <code>/persona 指示文</code> と送ってください（{ $max } 文字まで、暗号化して保存します）。
chat-persona-set = ペルソナを「{ $name }」にしました。
chat-persona-too-long = 指示文が長すぎます（{ $max } 文字まで）。
chat-persona-unknown = そのペルソナはありません。

chat-model-prompt = 使う AI モデルを選んでください。いまは <b>{ $current }</b> です。
chat-model-set = モデルを <b>{ $name }</b> にしました。
chat-model-unavailable = そのモデルはいま使えません。
chat-model-default-set = 全員の既定モデルを <b>{ $name }</b> にしました。
chat-model-button-default = ⭐ これを全員の既定にする
chat-model-price = 価格（100 万トークンあたり）: 入力 { $input } / 出力 { $output } クレジット
chat-model-own-key = 自分の API キーで動きます（クレジットは使いません）

chat-balance =
    <b>残高</b>: { $balance } クレジット
    今日の無料枠の残り: { $free } / { $daily } クレジット
chat-usage =
    <b>AI の利用状況</b>
    今日: { $today_replies } 件、{ $today_tokens } トークン、{ $today_cost } クレジット
    今月: { $month_replies } 件、{ $month_tokens } トークン、{ $month_cost } クレジット
chat-usage-model = • { $model }: { $replies } 件、{ $tokens } トークン、{ $cost } クレジット
chat-usage-none = 今月はまだ利用がありません。

chat-apikey-help =
    自分の API キーを登録すると、そのプロバイダーのモデルはクレジットなしで使えます。
    <code>/apikey キー</code> と送ってください（OpenAI は sk-…、Anthropic は sk-ant-…、Gemini は AIza… で自動判別します）。判別できないときは <code>/apikey anthropic キー</code> のように書いてください。
    キーは安価な呼び出しで一度確かめてから暗号化して保存し、キーを含むメッセージは削除します。
    削除: <code>/apikey remove</code>（すべて）または <code>/apikey remove openai</code>
    登録済み: { $providers }
chat-apikey-none = なし
chat-apikey-saved = { $provider } のキーを確認して保存しました。このプロバイダーの返答はクレジットを消費しません。
chat-apikey-invalid = { $provider } がこのキーを受け付けませんでした。保存していません。
chat-apikey-check-failed = { $provider } に接続してキーを確かめられませんでした。保存していません。しばらくしてからお試しください。
chat-apikey-unknown = どのプロバイダーのキーか判別できませんでした。<code>/apikey openai キー</code> のようにプロバイダー名を付けてください（openai、anthropic、gemini）。
chat-apikey-bad-shape = キーの形式が正しくないようです。保存していません。
chat-apikey-removed = 自分の API キーを削除しました（{ $count } 件）。
chat-apikey-group = API キーはグループに送らないでください。メッセージを削除しました。ボットとの個別チャットで /apikey を使ってください。
chat-apikey-group-not-deleted = API キーはグループに送らないでください。このグループではメッセージを削除する権限がないため、メッセージを<b>削除できませんでした</b>。キーはグループの全員に見えています。今すぐメッセージを削除し、プロバイダーで<b>キーを無効化</b>してから、ボットとの個別チャットで /apikey から新しいキーを登録してください。
chat-apikey-deleted = キーを含むメッセージは削除しました。
chat-apikey-not-deleted = キーを含むメッセージを<b>削除できませんでした</b>。今すぐご自身で削除し、他人に見られた可能性があればプロバイダーで<b>キーを無効化</b>してください。
