# Mini App の共通文言（ページには JSON で渡されます: /app/strings/ja.json）
webapp-refused-missing = Telegram から開いてください（ログイン情報がありません）。
webapp-refused-invalid = ログイン情報を確認できませんでした。Telegram のボタンから開き直してください。
webapp-refused-stale = ログイン情報の有効期限（1 時間）が切れました。Telegram のボタンから開き直してください。
webapp-refused-forbidden = このページを使う権限がありません。
webapp-error-network = サーバーに接続できませんでした。しばらくしてからもう一度お試しください。
webapp-loading = 読み込み中…
