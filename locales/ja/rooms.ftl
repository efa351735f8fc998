# AI ルーム: グループやフォーラムのトピックで、みんなと AI が一緒に話す（docs/rooms.md）。

rooms-role-reader = 閲覧者
rooms-role-guest = ゲスト
rooms-role-member = メンバー
rooms-role-admin = 管理者
rooms-role-master = マスター

rooms-none = このグループにはまだ AI ルームがありません。/room で設定できます。
rooms-is-logserver = このグループは個人ログサーバーのため、AI ルームにはできません。
rooms-already = このグループにはすでに AI ルームがあります。/room で表示します。
rooms-setup-offer =
    <b>AI ルーム</b>
    ここにいるみんなで AI と話せます。ルームには役割、1 日の予算、トピックごとの会話があります。
    設定した人がルームの<b>マスター</b>になり、回答の費用はマスターのクレジットから支払われます（自分の API キーを使うメンバーの分は除く）。
    設定できるのは、グループの作成者か、ボットを追加した人です。
rooms-button-setup = ✅ 設定する（自分がマスター）
rooms-setup-only = ルームを設定できるのは、グループの作成者かボットを追加した人だけです。
rooms-setup-done = ルームを設定しました。あなたがマスターです。

rooms-panel-title = <b>AI ルーム</b>
rooms-panel-master = マスター: { $name }（費用を支払う人）
rooms-panel-your-role = あなたの役割: { $role }
rooms-panel-model = モデル: { $model }
rooms-panel-persona = 人格: { $persona }
rooms-panel-budget = 1 日の予算: { $budget } クレジット ・ 1 人あたり: { $cap }
rooms-panel-guests = ゲストの質問: { $state }（1 日 { $quota } 件まで）
rooms-panel-trigger-mention = 回答するとき: メンション、返信、または /ask
rooms-panel-trigger-all = 回答するとき: ボットに見えるすべてのメッセージ（管理者権限かプライバシーモードのオフが必要）
rooms-panel-newcomer = 役割のない人: { $role }
rooms-panel-logged = 📒 このルームのやり取りは、暗号化してマスターのログサーバー（ルームのトピック）に記録されます。
rooms-panel-not-logged = 📒 このルームのやり取りは記録されません（マスターに有効なログサーバーがありません）。
rooms-master-unknown = マスター
rooms-unlimited = 上限なし
rooms-on = 可
rooms-off = 不可

rooms-button-model = 🧠 モデル
rooms-button-persona = 🎭 人格
rooms-button-budget = 💰 1 日の予算
rooms-button-cap = 👤 1 人あたりの上限
rooms-button-guests = 🚪 ゲストの質問
rooms-button-quota = 🎟 ゲストの回数
rooms-button-trigger = 🔔 回答するとき
rooms-button-newcomer = 🆕 新しい人の役割
rooms-button-roles = 👥 役割
rooms-button-usage = 📊 利用状況
rooms-button-back = ← 戻る
rooms-button-accept = ✅ 引き受ける
rooms-button-decline = ✖ 断る
rooms-button-regenerate = 🔄 再生成
rooms-button-exclude = 🚫 文脈から外す
rooms-button-start-bot = ボットを開く
rooms-button-stale = このボタンは別のルーム、またはもう存在しないルームのものです。

rooms-pick-model = このルームの全員が使うモデルを選んでください:
rooms-pick-persona = このルームの全員が使う人格を選んでください:
rooms-pick-budget = ルーム全体が 1 日（UTC）に使えるクレジット:
rooms-pick-cap = 1 人が 1 日（UTC）に使えるクレジット:
rooms-pick-quota = ゲストが 1 日（UTC）にできる質問の数:
rooms-saved = 保存しました。
rooms-value-invalid = その選択肢は使えません。
rooms-roles-help =
    <b>役割</b>
    閲覧者: 見るだけで AI に質問できない ・ ゲスト: ルームが許すとき 1 日の回数まで質問できる ・ メンバー: 質問できる ・ 管理者: 役割と設定の管理、/new ・ マスター: 予算の設定、ルームの引き継ぎ、支払い。
    役割を与えるには、その人のメッセージに <code>/role member</code>（または reader、guest、admin）で返信してください。
    マスターは、相手のメッセージに <code>/room handover</code> で返信してルームを引き継げます。

rooms-denied = このルームでのあなたの役割（{ $role }）では、この操作はできません。
rooms-role-how = 相手のメッセージに <code>/role reader</code>、<code>guest</code>、<code>member</code>、<code>admin</code> のいずれかで返信してください。
rooms-role-refused = { $role } の人の役割は変えられません。また、自分と同じ以上の役割は与えられません。
rooms-role-set = { $name } さんはこのルームで { $role } になりました。

rooms-handover-how = 新しいマスターのメッセージに <code>/room handover</code> で返信してください。
rooms-handover-offer = { $name } さん、マスターがこのルームを引き継いでほしいそうです。マスターになると、回答の費用はあなたのクレジットから支払われます。引き受けますか？
rooms-handover-not-you = 引き受けられるのは、指名された人だけです。
rooms-handover-expired = この申し出は期限切れです。
rooms-handover-declined = 引き継ぎは断られました。
rooms-handover-done = { $name } さんがこのルームのマスターになりました。前のマスターは管理者として残ります。
rooms-handover-done-short = あなたがマスターになりました。

rooms-new-done = このトピックの会話を消去しました。AI はここで最初から始めます。
rooms-waiting = ⏳ AI の回答待ち — 前に { $ahead } 件あります。
rooms-regenerating = 再生成しています…
rooms-regenerate-gone = この回答はもう再生成できません（会話から外れています）。
rooms-excluded = ルームの文脈から外しました。
rooms-private-start = 個別に回答を受け取るには、@{ $bot } を開いて一度「開始」を押してから、/private でもう一度質問してください。

rooms-refused-guests-off = このルームではゲストは AI に質問できません。料金はかかっていません。
rooms-refused-guest-quota = 今日のゲストの回数を使い切りました（{ $allowed } 件中 { $used } 件）。料金はかかっていません。
rooms-refused-room-budget = ルームの今日の予算を使い切りました（{ $allowed } クレジット中 { $used }）。料金はかかっていません。0:00 UTC に戻ります。
rooms-refused-member-cap = このルームでのあなたの今日の上限に達しました（{ $allowed } クレジット中 { $used }）。料金はかかっていません。
rooms-refused-no-credits = ルームのマスターのクレジットが足りません（必要: { $needed }、残高: { $balance }）。料金はかかっていません。
rooms-refused-busy = このルームでは AI がほかの質問に答えています。少し待ってからもう一度質問してください。

rooms-usage-title = <b>今日のルームの利用状況</b>: { $cost } クレジット、回答 { $replies } 件（予算: { $budget }）
rooms-usage-own-title = <b>このルームでの今日のあなたの利用状況</b>（ルームの予算: { $budget }）
rooms-usage-line = { $name }: 回答 { $replies } 件、{ $cost } クレジット
rooms-usage-none = 今日はまだありません。
