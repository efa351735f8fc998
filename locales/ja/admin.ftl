# 管理パネル (/admin) と利用停止の案内。
admin-na = —
admin-ok = 正常
admin-down = 接続できません
admin-yes = はい
admin-no = いいえ

admin-btn-back = « 戻る
admin-btn-stats = 📊 統計
admin-btn-users = 👤 ユーザー
admin-btn-payments = ⭐ 決済
admin-btn-payments-off = ⭐ 決済（利用不可）
admin-btn-broadcast = 📣 一斉送信
admin-btn-system = 🛠 システム
admin-btn-chart = 📈 グラフ
admin-btn-refresh = 🔄 更新
admin-btn-grant = ➕ クレジット付与
admin-btn-deduct = ➖ クレジット減算
admin-btn-ban = 🚫 利用停止
admin-btn-unban = ✅ 停止解除
admin-btn-another-user = 🔎 別のユーザー
admin-btn-confirm = ✅ 実行する
admin-btn-cancel = ✖ やめる
admin-btn-aud-all = 全員
admin-btn-aud-ja = 日本語のユーザー
admin-btn-aud-en = 英語のユーザー
admin-btn-aud-active = 直近 { $days } 日に利用
admin-btn-aud-days = 日数を指定…
admin-btn-bc-edit = ✏️ 本文を書き直す
admin-btn-purge = 🧹 今すぐ削除
admin-btn-purge-off = 🧹 今すぐ削除（利用不可）
admin-btn-refund = #{ $id } を返金（{ $stars } ⭐）
admin-btn-prev = « 前へ
admin-btn-next = 次へ »

admin-menu =
    <b>管理パネル</b>
    操作を選んでください。すべての操作は監査記録に残ります。

admin-stats =
    <b>統計</b>
    ユーザー数: { $total }（今日の新規 { $new }）
    アクティブ: 24時間 { $active24 } / 7日 { $active7 }
    今日のメッセージ: { $messages }、トークン: { $tokens }
    Stars 売上: 今日 { $revenue_today } / 30日 { $revenue_30 }
    接続中のログサーバー: { $logservers }
    送信待ちキュー: { $queue }
admin-chart-caption =
    直近 { $days } 日のアクティブユーザー（青線）と Stars 売上（棒）。
    延べアクティブ { $active }、1日の最大 { $peak }、売上合計 { $revenue } ⭐（UTC）
admin-chart-title = { $start } 〜 { $end } のアクティブユーザーと売上（UTC）
admin-chart-active = アクティブユーザー（人/日）
admin-chart-revenue = Stars 売上（XTR）

admin-users-prompt = ユーザー ID（数字）または @ユーザー名 をこのチャットに送ってください。
admin-lookup-malformed = ユーザー ID または @ユーザー名 として読み取れませんでした。
admin-lookup-not-found = そのユーザーは見つかりません。ボットを使ったことのあるユーザーだけを検索できます。
admin-card-lang-derived = { $lang }（Telegram アプリの言語・未選択）
admin-card-none = なし
admin-status-active = 利用中
admin-status-banned = 利用停止中
admin-status-blocked_bot = ボットをブロック
admin-card =
    <b>ユーザー { $id }</b>
    言語: { $lang }
    登録日: { $joined }（最終利用 { $seen }）
    残高: { $balance } クレジット
    状態: { $status }（権限 { $role }）
    サブスクリプション: { $subscription }
    ログサーバー接続: { $logserver }

admin-grant-prompt = ユーザー { $id } に付与するクレジット数を送ってください（現在の残高 { $balance }）。
admin-deduct-prompt = ユーザー { $id } から減らすクレジット数を送ってください（現在の残高 { $balance }）。
admin-amount-invalid = 1 以上の整数（クレジット数）を送ってください。
admin-deduct-too-much = 残高 { $balance } から { $amount } は減らせません。残高以下の数を送ってください。
admin-confirm-grant = ユーザー { $id } に <b>{ $amount }</b> クレジットを付与します。残高は { $before } → { $after } になります。よろしいですか？
admin-confirm-deduct = ユーザー { $id } から <b>{ $amount }</b> クレジットを減らします。残高は { $before } → { $after } になります。よろしいですか？
admin-granted = { $amount } クレジットを付与しました。新しい残高: { $balance }
admin-deducted = { $amount } クレジットを減らしました。新しい残高: { $balance }
admin-confirm-ban = ユーザー { $id } を利用停止にします。このユーザーはメッセージもボタンも決済も使えなくなり、そのたびに利用停止の案内が表示されます。よろしいですか？
admin-ban-admin-refused = 管理者は利用停止にできません。
admin-banned = 利用停止にしました。
admin-unbanned = 利用停止を解除しました。
admin-not-banned = このユーザーは利用停止になっていません。
admin-confirm-stale = この確認ボタンはもう使えません。もう一度操作してください。

admin-payments-unavailable = 決済機能がまだ有効ではないため、決済一覧と返金は使えません。
admin-payments =
    <b>最近の決済</b>（{ $page } ページ目）
    { $lines }
admin-payment-line = #{ $id } ユーザー { $user }: { $stars } ⭐ { $date } { $refunded }
admin-payment-refunded = （返金済み）
admin-payments-empty = 決済はまだありません。
admin-confirm-refund = 決済 #{ $id } を返金します。Stars はユーザーに戻り、付与したクレジットは取り消されます。よろしいですか？
admin-refunded = 決済 #{ $id }（{ $stars } ⭐, ユーザー { $user }）を返金しました。
admin-refund-refused = 返金できませんでした: { $reason }
admin-refund-reason-not-found = その決済は見つかりません。
admin-refund-reason-already-refunded = この決済はすでに返金されています。
admin-refund-reason-window-passed = 返金できる期間を過ぎています。
admin-refund-reason-credits-used = 購入したクレジットがすでに使われています。
admin-refund-reason-telegram-refused = Telegram が返金を受け付けませんでした。時間をおいてもう一度試してください。

admin-bc-prompt = 一斉送信する本文を送ってください（太字・リンクなどの書式はそのまま使えます。最大 { $limit } 文字）。
admin-bc-text-only = 一斉送信できるのはテキストだけです。本文をテキストで送ってください。
admin-bc-too-long = 本文が長すぎます（{ $length } 文字、最大 { $limit } 文字）。短くして送り直してください。
admin-bc-preview =
    <b>プレビュー</b>（受け取る人にはこう表示されます）
    ───
    { $text }
    ───
    送信先を選んでください。
admin-aud-all = 全員
admin-aud-locale = 言語が { $lang } のユーザー
admin-aud-active = 直近 { $days } 日に利用したユーザー
admin-days-prompt = 何日以内に利用したユーザーに送りますか？ 1〜{ $max } の数を送ってください。
admin-days-invalid = 1〜{ $max } の整数を送ってください。
admin-bc-nobody = 送信先（{ $audience }）に該当するユーザーがいません。
admin-bc-confirm =
    <b>一斉送信の確認</b>
    送信先: { $audience }（{ $count } 人）
    毎秒 { $rate } 件以下で送信し、ボットをブロックした人は飛ばして記録します。送信は取り消せません。
    ───
    { $text }
    ───
    送信しますか？
admin-bc-started = 一斉送信 #{ $id } を開始しました（{ $count } 人）。進み具合は別のメッセージで更新します。
admin-bc-progress = 📣 一斉送信 #{ $id }: { $done } / { $total } 件処理（送信 { $sent }、ブロック { $blocked }、失敗 { $failed }）
admin-bc-report =
    📣 一斉送信 #{ $id } が完了しました。
    送信 { $sent } 件、ブロックされていた { $blocked } 件、失敗 { $failed } 件（合計 { $total } 人）
admin-bc-expired =
    📣 一斉送信 #{ $id } は 24 時間以内に終わらなかったため打ち切りました。
    送信 { $sent } 件、ブロック { $blocked } 件、未送信・失敗 { $failed } 件（合計 { $total } 人）

admin-system =
    <b>システム</b>
    データベース: { $db }
    Redis: { $redis }
    送信待ちキュー: { $queue }
    定期ジョブ:
    { $jobs }
    AI プロバイダー:
    { $providers }
    バージョン: { $version }、稼働時間: { $uptime }
admin-sys-redis-off = 未設定（プロセス内メモリ）
admin-sys-job = • { $name }: 次回 { $next } UTC（失敗 { $failures } 回）
admin-sys-provider = • { $name }: { $state }
admin-sys-none = • なし
admin-purge-unavailable = 削除機能がまだ有効ではないため、今は使えません。
admin-confirm-purge = 保存期限（24時間）を過ぎた一時データを今すぐ削除します。元に戻せません。よろしいですか？
admin-purged = 期限切れのデータを { $count } 行削除しました。
admin-purge-failed = 削除の一部が失敗しました。ログを確認して、もう一度試してください。

ban-notice = このアカウントは利用停止中のため、ボットを使うことはできません。誤りだと思われる場合は運営者にお問い合わせください。

admin-btn-attention = ⚠️ 対応が必要な支払い
admin-attention =
    <b>対応が必要な支払い</b>
    { $lines }
admin-attention-empty = 対応が必要なものはありません。未処理の返金依頼はなく、すべての決済にクレジットが付与されています。
admin-attention-line = #{ $id } ユーザー { $user }: { $stars } ⭐（{ $date }）: { $reason }
admin-attention-refund-requested = 規定では自動で返金できない返金依頼があります
admin-attention-flagged = 決済済みですがクレジット未付与です（{ $detail }）: カタログと一致しません
admin-attention-credit-pending = 決済を記録済みで、クレジットはまだ付与されていません
admin-attention-reconciled = 照合で見つかった支払い（こちらに届いていなかったもの）で、付与済みです
admin-refund-shortfall = そのうち { $shortfall } クレジットはすでに使われていたため、差し引けませんでした。
admin-refund-user-told = ユーザーに通知しました。
admin-refund-user-not-told = ユーザーに通知できませんでした（Telegram がメッセージを拒否しました）。
