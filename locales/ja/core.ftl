# Core: start, help, language, privacy, errors. Japanese is the default locale.
bot-description =
    Libral は、あなたの会話履歴をあなた自身が持つ AI チャットボットです。
    記録はすべてあなたの OpenPGP 鍵で暗号化され、あなたのグループに届きます。サーバーには 24 時間以上、個人的なものを残しません。
bot-short-description = あなたの鍵で暗号化される、プライバシー重視の AI チャット。

cmd-start = はじめる
cmd-help = 使い方
cmd-language = 言語を選ぶ
cmd-privacy = 何を保存するか

language-name = 日本語
start-greeting =
    こんにちは、{ $name } さん。Libral へようこそ。
    AI と話せて、記録はあなた自身の鍵で暗号化され、あなたのグループに保存されます。
    まず言語を選んでください。
help-text =
    <b>使い方</b>
    { $commands }

    メッセージを送ると AI が答えます。
language-prompt = 表示する言語を選んでください。
language-changed = 日本語にしました。
language-changed-long = 表示言語を日本語にしました。/help で使い方を確認できます。

privacy-summary =
    <b>Libral が保存するもの</b>
    • ずっと保存: Telegram のユーザー ID、言語などの設定、公開鍵、暗号化したグループへのリンク、クレジット残高、支払いの記録（ID と金額のみ）。
    • 最大 24 時間: AI との会話の文脈（暗号化済み）、まだ届いていない記録の暗号文、一度きりのトークン。24 時間を過ぎると自動的に消去されます。
    • あなたのグループ: すべての記録はサーバーの鍵で署名され、あなたの鍵で暗号化されてから届きます。運営者は中身を読めません。
    • /forget で、サーバー上のあなたのデータをすぐに消去できます（クレジット残高と支払いの記録は残ります）。
    詳しくはリポジトリの docs/privacy.md をご覧ください。

error-generic = 申し訳ありません、処理中に問題が起きました。少し待ってからもう一度お試しください。
error-throttled = 少し速すぎます。数秒待ってから送ってください。
error-button-expired = このボタンは有効期限が切れています。もう一度コマンドから始めてください。
error-unknown-command = { $command } というコマンドはありません。/help で使えるコマンドを確認できます。
error-text-not-understood = メッセージを受け取りましたが、いまは答えられません。/help をご覧ください。
error-unsupported-message = この種類のメッセージにはまだ対応していません。テキストで送ってください。
