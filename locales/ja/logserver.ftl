# 個人ログサーバー: セットアップ、状態、グループのパネル、配送の通知。
cmd-logserver = 個人ログサーバー（暗号化された履歴）

logserver-intro =
    <b>あなた専用のログサーバー</b>
    履歴はあなた自身の Telegram グループに、あなた自身の鍵で暗号化して保存されます。サーバーは個人的なデータを 24 時間より長く保持しません。

    ボットはグループを作れないため、次の手順でお願いします。
    1. 下のボタンを押して<b>新しいグループを作成</b>（または既存のグループを選択）してください。グループ設定で<b>トピック</b>をオンにする必要があります。
    2. Telegram が私を管理者として追加します。権限は「トピックの管理」「メッセージの削除」「メッセージのピン留め」の 3 つだけです。
    ほかに誰もいないグループがおすすめです。
logserver-btn-pick-group = ログ用グループを選ぶ・作る
logserver-link-intro = お使いの Telegram アプリでボタンが動かない場合は、代わりにこのリンクで私を追加してください（1 回限り、10 分間有効）：
logserver-btn-startgroup = ボットをグループに追加

logserver-check-not-found = そのグループが見えません。私を管理者として追加してから、もう一度お試しください。
logserver-check-not-supergroup = それは通常のグループです。設定で<b>トピック</b>をオンにして（スーパーグループになります）、もう一度選んでください。
logserver-check-not-forum = そのグループにはトピックがありません。グループ設定 → <b>トピック</b> をオンにしてから、もう一度選んでください。
logserver-check-user-not-admin = ログサーバーにできるのはグループのオーナーか管理者だけです。オーナーに頼むか、ご自身のグループをお使いください。
logserver-check-bot-not-admin = 私はそこで管理者ではありません。グループ設定 → 管理者 → 管理者を追加 → 私を選び、「トピックの管理」「メッセージの削除」「メッセージのピン留め」を許可してください。
logserver-check-bot-missing-rights = 私は管理者ですが、次の権限がありません：{ $rights }。グループ設定 → 管理者 → 私を選んでオンにし、「もう一度確認」を押してください。
logserver-check-already-linked = そのグループはすでに別のアカウントのログサーバーです。ご自身のグループをお使いください。
logserver-warn-other-members = 注意：このグループにはほかに { $count } 人がいます。記録を読めるのはあなたの鍵だけですが、ボットを使ったことは見えます。あなただけのグループがおすすめです。
logserver-warn-extra-rights = 注意：必要以上の権限があります（{ $rights }）。グループ設定 → 管理者 → 私を選んで外すことができます。
logserver-warn-cannot-pin = 注意：メッセージをピン留めする権限がないため、操作パネルはピン留めされていません。「メッセージのピン留め」を許可するとピン留めされます。

logserver-right-can-manage-chat = グループの管理
logserver-right-can-delete-messages = メッセージの削除
logserver-right-can-manage-video-chats = ビデオチャットの管理
logserver-right-can-restrict-members = ユーザーのブロック
logserver-right-can-promote-members = 管理者の追加
logserver-right-can-change-info = グループ情報の変更
logserver-right-can-invite-users = ユーザーの招待
logserver-right-can-post-stories = ストーリーの投稿
logserver-right-can-edit-stories = ストーリーの編集
logserver-right-can-delete-stories = ストーリーの削除
logserver-right-can-send-welcome-messages = ウェルカムメッセージの送信
logserver-right-can-post-messages = メッセージの投稿
logserver-right-can-edit-messages = メッセージの編集
logserver-right-can-pin-messages = メッセージのピン留め
logserver-right-can-manage-topics = トピックの管理
logserver-right-can-manage-direct-messages = ダイレクトメッセージの管理
logserver-right-can-manage-tags = タグの管理

logserver-bound = グループ「{ $title }」とつながりました。
logserver-group-bound-here = つながりました。続きは私とのプライベートチャットでどうぞ。
logserver-key-prompt =
    次は鍵です。OpenPGP の<b>公開鍵</b>をテキストか .asc ファイルで送ってください（例：<code>gpg --export --armor you@example.org</code>）。
logserver-key-accepted = 鍵を受け付けました。フィンガープリント：<code>{ $fingerprint }</code>
logserver-key-not-expected = 今は鍵を待っていません。ログサーバーの設定や鍵の変更は /logserver からどうぞ。
logserver-key-secret-refused = それは<b>秘密鍵</b>でした。メッセージを削除し、保存もしていません。秘密鍵は決して共有しないでください。代わりに<b>公開鍵</b>を送ってください（--export-secret-keys ではなく <code>gpg --export --armor</code>）。他人に見られた可能性があるなら、新しい鍵を作ってください。
logserver-key-secret-not-deleted = それは<b>秘密鍵</b>でした。保存はしていませんが、メッセージを<b>削除できませんでした</b>。今すぐご自身で削除してください。Telegram に保存されたため、この鍵は漏れたものとして扱い、失効させて新しい鍵を作り、<b>公開鍵</b>だけを送ってください。
logserver-key-not-openpgp = OpenPGP の公開鍵ではありません。「-----BEGIN PGP PUBLIC KEY BLOCK-----」で始まるテキストか、.asc ファイルを送ってください。
logserver-key-secret-key = それは秘密鍵です。公開鍵を送ってください。
logserver-key-multiple-keys = 複数の鍵が含まれています。公開鍵を 1 つだけ送ってください。
logserver-key-expired = その鍵は有効期限切れです。有効期限を延ばす（gpg --quick-set-expire）か新しい鍵を作ってから、もう一度送ってください。
logserver-key-revoked = その鍵は失効しています。有効な鍵を送るか、お使いの端末で新しい鍵を作ってください（/logserver）。
logserver-key-no-encryption-subkey = その鍵では暗号化できません（有効な暗号化用サブキーがありません）。サブキーを追加する（gpg --quick-add-key）か、別の鍵をお使いください。
logserver-key-no-signing-key = その鍵には有効な署名用の鍵がありません。別の鍵をお使いください。
logserver-key-weak-algorithm = その鍵は弱いアルゴリズム（2048 ビット未満の RSA など）です。新しい鍵（Ed25519/Curve25519）を作るか、お使いの端末で新しい鍵を作ってください（/logserver）。
logserver-key-unsupported = この種類の鍵には対応していません。Ed25519/Curve25519 か RSA の鍵を使うか、お使いの端末で新しい鍵を作ってください（/logserver）。
logserver-key-too-large = 公開鍵としては大きすぎるファイルです。公開鍵だけを送ってください。
logserver-key-bad-passphrase = その鍵のロックを解除できませんでした。代わりに公開鍵を送ってください。

logserver-setup-done = 「{ $title }」のログサーバーの準備ができました。トピックを作成し、暗号化したセットアップ記録を送り、操作パネルをピン留めしました。状態は /logserver で確認できます。
logserver-setup-failed = トピックの作成または操作パネルの投稿ができませんでした。私が「トピックの管理」権限を持つ管理者か確認し、/logserver →「もう一度確認」を押してください。

logserver-topic-chat = 会話
logserver-topic-billing = 支払い
logserver-topic-audit = 監査
logserver-topic-system = システム
logserver-topic-rooms = ルーム
logserver-topic-concierge = コンシェルジュ

logserver-state-active = 有効
logserver-state-paused = 一時停止中
logserver-state-disconnected = 切断
logserver-state-awaiting-key = 鍵を待っています
logserver-never = まだありません
logserver-none = ログサーバーがありません。/logserver で設定してください。
logserver-status =
    <b>ログサーバー</b>
    グループ：{ $title }
    状態：{ $state }
    鍵：<code>{ $fingerprint }</code>
    トピック：{ $topics }
    配送待ちの記録：{ $queued }
    最後の配送：{ $last }
logserver-reason-removed = グループから削除されました（またはグループが削除されました）。管理者として追加し直してください。配送待ちの記録は 24 時間保持されます。
logserver-reason-rights = そこでの管理者権限がなくなりました。「トピックの管理」と「メッセージの削除」を戻してください。
logserver-reason-topic = ログサーバーのトピックが削除されました。「もう一度確認」を押すと作り直します。
logserver-btn-recheck = もう一度確認
logserver-btn-change-key = 鍵を変更
logserver-btn-disconnect = 接続を解除
logserver-btn-confirm-disconnect = はい、解除します
logserver-btn-cancel = キャンセル
logserver-recheck-ok = グループに問題はありません。
logserver-rotate-prompt = 新しい<b>公開鍵</b>（テキストか .asc ファイル）を送ってください。これからの記録は新しい鍵で暗号化されます。以前の記録は古い鍵で読めます。

logserver-panel =
    <b>Libral ログサーバー</b>
    記録：{ $state }
    鍵：<code>{ $fingerprint }</code>
    ボタンを使えるのはオーナーだけです。
logserver-btn-pause = 記録を一時停止
logserver-btn-resume = 記録を再開
logserver-btn-test = テスト記録を送る
logserver-btn-rotate = 鍵を変更
logserver-btn-purge = サーバー上の自分のデータを今すぐ消去
logserver-btn-confirm-purge = はい、今すぐ消去
logserver-confirm-purge = サーバーが最大 24 時間保持している、あなたに関するデータ（AI の会話コンテキストと未配送の記録）をすべて削除します。元に戻せません。
logserver-confirm-disc = グループとの接続を解除し、未配送の記録を削除して、私はグループから退出します。グループ内の記録はそのまま残ります。
logserver-only-owner = このログサーバーのボタンを使えるのはオーナーだけです。
logserver-panel-orphan = このグループはもうログサーバーではありません。
logserver-paused = 記録を一時停止しました。再開するまで何も記録しません。
logserver-resumed = 記録を再開しました。
logserver-not-active = ログサーバーは今有効ではありません。プライベートチャットで /logserver をご確認ください。
logserver-test-queued = テスト記録を送りました。まもなくシステムのトピックに届きます。
logserver-test-paused = 記録が一時停止中です。テスト記録を送るには再開してください。
logserver-rotate-asked = 新しい鍵はプライベートチャットでお願いしました。
logserver-open-private = 先に私とのプライベートチャットを開いて（「開始」を押して）から、もう一度お試しください。
logserver-purged = 消去しました：サーバーから { $count } 件を削除しました。
logserver-disconnected-done = ログサーバーの接続を解除しました。{ $count -> 
        [0] 配送待ちの記録はありませんでした。
       *[other] 未配送の記録 { $count } 件を削除しました。
    }新しく設定するには /logserver をどうぞ。
logserver-group-goodbye = このグループは Libral のログサーバーではなくなりました。ここにある記録はあなたのものです。

logserver-token-invalid = このリンクは期限切れか、すでに使われています。私とのプライベートチャットで /logserver を開き、新しいリンクを受け取ってください。
logserver-token-wrong-user = このリンクは別の人のものです。ご自身のプライベートチャットで /logserver を開いてください。

logserver-disconnected-removed = ログサーバーが切断されました。私がグループから削除されたか、グループが削除されました。記録は最大 24 時間待機します。管理者（トピックの管理・メッセージの削除・ピン留め）として追加し直すと配送が再開します。
logserver-disconnected-rights = ログサーバーが切断されました。私はそこで「トピックの管理」と「メッセージの削除」を持つ管理者ではなくなりました。権限を戻すと配送が再開します。記録は最大 24 時間待機します。
logserver-disconnected-topic = ログサーバーを一時停止しました。トピックの 1 つが削除されました。/logserver →「もう一度確認」で作り直してください。
logserver-reconnected = ログサーバーが再びつながりました。{ $count -> 
        [0] 配送待ちの記録はありません。
       *[other] 配送待ちの記録 { $count } 件を配送しています。
    }
logserver-records-lost = { $count } 件の記録を 24 時間以内にログサーバーへ配送できず、削除しました。/logserver でグループを確認してください。
