cmd-personas = ペルソナと話す
cmd-end = ペルソナとの会話を終える

concierge-no-personas = いま話せるペルソナはいません。
concierge-personas-intro = 話せるペルソナです（1 通ごとに表示の料金がかかります）:
concierge-persona-card = <b>{ $name }</b>
    { $bio }
    特徴: { $attributes }
    料金: 1 通 { $price } クレジット
concierge-btn-chat = 💬 話す
concierge-btn-skip-name = スキップ
concierge-start-no-persona = そのペルソナは存在しません。
concierge-start-inactive = そのペルソナはいま利用できません。/personas でほかのペルソナをご覧ください。
concierge-start-no-desk = コンシェルジュはまだ開いていません。あとでもう一度お試しください。
concierge-start-desk-failed = いま会話を開けませんでした。料金はかかっていません。少ししてからもう一度お試しください。
concierge-opened = <b>{ $persona }</b> との会話を始めました（1 通 { $price } クレジット）。{ $persona } にどう呼んでほしいですか？ 名前を送るか「スキップ」を押してください。/end で会話を終えます。
concierge-name-skipped = わかりました。いつでもメッセージをどうぞ。
concierge-name-saved = { $name } さん、ありがとうございます。いつでもメッセージをどうぞ。
concierge-end-none = 開いているペルソナとの会話はありません。/personas でペルソナを一覧できます。
concierge-ended = { $persona } との会話を終えました。ログサーバーがあれば、記録がコンシェルジュのトピックに届きます。
concierge-ended-by-persona = { $persona } が会話を終えました。ログサーバーがあれば、記録がコンシェルジュのトピックに届きます。
concierge-queued = ⏳ 多くのメッセージが待っています。あなたのメッセージは順番に届けます。
concierge-low-balance = 残高（{ $balance } クレジット）がこのメッセージの料金（{ $price } クレジット）に足りません。何も請求せず、送ってもいません。クレジットを購入:
concierge-not-delivered = メッセージを届けられなかったため、料金はかかっていません（{ $credits } クレジットを戻しました）。もう一度送ってください。
concierge-msg-no-session = 開いているペルソナとの会話がないため、メッセージは送られていません。/personas でペルソナを一覧できます。
concierge-msg-unsupported = ペルソナに送れるのはテキスト・写真・スタンプだけです。料金はかかっていません。
concierge-msg-no-desk = コンシェルジュはいま閉じています。メッセージは送られず、料金もかかっていません。
concierge-name-fallback = お客様

concierge-desk-ended-by-user = ⚫ ユーザーが会話を終えました。
concierge-desk-ended-by-staff = ⚫ スタッフが終了しました。
concierge-desk-draft = ✨ AI の下書き（コピーして直すか、そのまま送れます）:

    { $text }
concierge-desk-not-staff = ここで返信できるのはスタッフだけです。何も中継していません。
concierge-desk-closed = このセッションは終了しています。何も中継していません。
concierge-desk-unsupported = 中継できるのはテキスト・写真・スタンプだけです。
concierge-desk-blocked = 届きませんでした: ユーザーがボットをブロックしています。
concierge-desk-failed = 届きませんでした: Telegram が受け付けませんでした。もう一度お試しください。
concierge-desk-no-session = このトピックのセッションはもうありません。
concierge-desk-draft-failed = いま AI の下書きを作れません（モデルが未設定か、プロバイダーの障害）。ご自身で返信してください。
concierge-drafting = 下書きを作っています…
concierge-press-no-session = このセッションはもうありません。
concierge-press-closed = セッションは終了しています。
concierge-press-taken = 別のスタッフが担当しています。
concierge-press-claimed = このセッションを担当します。
concierge-press-not-claimed = まだ誰も担当していません。
concierge-press-released = 担当を外しました。誰でも返信できます。
concierge-press-no-template = そのテンプレートは削除されています。
concierge-press-delivered = ユーザーに送りました。
concierge-press-blocked = 届きませんでした: ユーザーがボットをブロックしています。
concierge-press-failed = 届きませんでした: Telegram が受け付けませんでした。
concierge-press-duplicate = 送信済みです。
concierge-btn-claim = 🙋 担当する
concierge-btn-release = ↩️ 担当を外す
concierge-btn-close = ✖️ 終了
concierge-btn-draft = ✨ AI 下書き
concierge-btn-send-draft = 📤 そのまま送る

concierge-staff-menu = <b>コンシェルジュ</b> — ペルソナ、テンプレート、返信待ちのセッション。
concierge-btn-personas = 🎭 ペルソナ
concierge-btn-new-persona = ➕ 新しいペルソナ
concierge-btn-templates = 📋 テンプレート
concierge-btn-new-template = ➕ 新しいテンプレート
concierge-btn-queue = ⏳ 返信待ち
concierge-btn-link-desk = 🔗 スタッフデスクを連携
concierge-btn-back = ‹ 戻る
concierge-btn-persona-state = { $state ->
        [on] 🟢
       *[off] ⚪
    } { $name }
concierge-btn-delete-template = 🗑 { $title }
concierge-btn-skip-avatar = アバターなし
concierge-btn-staff-role = 🎭 スタッフ権限の付与/解除
concierge-btn-pick-desk = スタッフ用フォーラムを選ぶ
concierge-staff-personas = ペルソナ { $count } 件。押すと有効・無効を切り替えます。
concierge-persona-on = { $name } を再び利用できるようにしました。
concierge-persona-off = { $name } を無効にしました。新しい会話は始められません。
concierge-ask-persona-name = ペルソナの名前は？
concierge-ask-persona-bio = /personas に表示する短い紹介文は？
concierge-ask-persona-attributes = 特徴（口調・関心など）。なければ - を送ってください。
concierge-ask-persona-price = ユーザーの 1 通あたりの料金（0〜{ $max } クレジット）は？
concierge-ask-persona-avatar = アバターを写真で送るか、「アバターなし」を押してください。
concierge-invalid-name = 名前は 1〜{ $limit } 文字にしてください。
concierge-invalid-bio = 紹介文は 1〜{ $limit } 文字にしてください。
concierge-invalid-attributes = 特徴は { $limit } 文字以内にしてください。
concierge-invalid-price = 料金は 0〜{ $max } の整数にしてください。
concierge-persona-incomplete = ペルソナの入力が途中でした。「新しいペルソナ」からやり直してください。
concierge-persona-saved = ペルソナ <b>{ $name }</b> を保存しました（1 通 { $price } クレジット）。リンク: { $link }
concierge-staff-templates = テンプレート { $count } 件。押すと削除します。テンプレートの {"{"}name{"}"} はユーザーが伝えた名前になります。
concierge-ask-template-title = テンプレートの短い題名（ボタンの表示）は？
concierge-ask-template-body = テンプレートの本文は？ {"{"}name{"}"} はユーザーが伝えた名前になります。
concierge-invalid-template = 題名は 1〜{ $title } 文字、本文は空にできません。題名をもう一度送ってください。
concierge-template-saved = テンプレート「{ $title }」を保存しました。
concierge-template-deleted = テンプレートを削除しました。
concierge-template-gone = そのテンプレートはすでに削除されています。
concierge-queue-empty = 返信待ちのセッションはありません。
concierge-queue = <b>返信待ち { $count } 件</b>（待ち時間の長い順）:
concierge-queue-line = • { $persona } · { $pseudonym } — { $minutes } 分
concierge-role-granted = ユーザー { $id } をスタッフにしました。
concierge-role-revoked = ユーザー { $id } のスタッフ権限を外しました。
concierge-role-unchanged = 変更はありません（運営者の権限はそのままです）。
concierge-desk-intro = スタッフが返信するフォーラム（スーパーグループ）を選んでください。ログサーバーと同じ確認をします: トピックが有効、あなたが管理者、私が管理者（トピックの管理・メッセージの削除とピン留めの権限）。スタッフに見えるのはユーザーがペルソナに書いた内容だけで、誰なのかは見えません。
concierge-desk-linked = <b>{ $title }</b> をスタッフデスクにしました。会話ごとにトピックを作ります。
