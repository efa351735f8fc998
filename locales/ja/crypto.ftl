# 暗号: サーバー鍵、ユーザー鍵、記録の検証
cmd-serverkey = サーバーの署名鍵（記録の検証用）

crypto-serverkey =
    <b>Libral の署名鍵</b>
    あなたのグループに届く記録はすべてこの鍵で署名されています。フィンガープリント:
    <code>{ $fingerprint }</code>
    作成日時 { $created }。信頼する前にフィンガープリントを照合してください。下のファイルが公開鍵です。
crypto-serverkey-old =
    以前の鍵（古い記録の検証に引き続き使えます）:
    { $fingerprints }
crypto-serverkey-missing = サーバー鍵の準備がまだできていません。少し待ってからもう一度お試しください。
crypto-serverkey-caption = Libral サーバー公開鍵 { $short }

# 鍵を受け付けなかった理由（"crypto-key-error-" + 種類）
crypto-key-error-not-openpgp = OpenPGP の公開鍵ではありません。「-----BEGIN PGP PUBLIC KEY BLOCK-----」で始まるテキストか .asc ファイルを送ってください。
crypto-key-error-secret-key = 送られたのは「秘密鍵」でした。メッセージは削除し、保存していません。公開鍵だけを送ってください。他の人に見られた可能性がある場合は、新しい鍵の作成をおすすめします。
crypto-key-error-multiple-keys = 複数の鍵が含まれています。公開鍵を1つだけ送ってください。
crypto-key-error-expired = この鍵は有効期限が切れています。期限を延長する（または新しい鍵を作る）してから、もう一度送ってください。
crypto-key-error-revoked = この鍵は失効（revoke）されているため使えません。
crypto-key-error-no-encryption-subkey = この鍵には使える暗号化用の副鍵がないため、記録を暗号化できません。
crypto-key-error-no-signing-key = この鍵は署名に使えません。
crypto-key-error-weak-algorithm = この鍵は弱いアルゴリズム（例: 2048 ビット未満の RSA）を使っています。Curve25519 の鍵か、3072 ビット以上の RSA 鍵を使ってください。
crypto-key-error-unsupported = この種類の鍵には対応していません（珍しい曲線など）。Curve25519 か RSA の鍵ならどこでも使えます。
crypto-key-error-too-large = 鍵が大きすぎます。
crypto-key-error-bad-passphrase = パスフレーズが違うため、この鍵を開けません。

# メッセージを開けなかった理由
crypto-decrypt-error-not-openpgp = OpenPGP のメッセージではありません。
crypto-decrypt-error-no-secret-key = このメッセージはあなたの鍵宛てに暗号化されていません。
crypto-decrypt-error-bad-passphrase = パスフレーズが違います。
crypto-decrypt-error-integrity = メッセージが改ざんまたは破損しています。
crypto-decrypt-error-failed = メッセージを復号できませんでした。

# 検証で見つかった問題
crypto-record-forged = Libral のサーバー鍵で署名されていません。偽造の可能性があります。
crypto-record-moved = 別のグループまたはトピック向けに署名されています。移動またはコピーされた記録です。
crypto-record-chain-broken = 直前の記録とつながっていません。記録の欠落か順序の入れ替わりがあります。
crypto-record-malformed = このバージョンでは読めない形式の記録です。

# 生成した鍵ペアを一度だけ渡す
crypto-keygen-done =
    新しい鍵ペアを作成しました（フィンガープリント <code>{ $fingerprint }</code>）。
    ファイルはあなたの「秘密鍵」で、次のパスフレーズで保護されています:
    <tg-spoiler><code>{ $passphrase }</code></tg-spoiler>
    今すぐ両方を安全な場所（パスワードマネージャーなど）に保存し、このメッセージを削除してください。Libral はこれらを保存しておらず、復元もできません。

# 閲覧ツール（python -m bot.reader）: 記録の書き起こしと検証レポート
crypto-reader-title = Libral ログ — { $title }
crypto-reader-report = 検証レポート
crypto-reader-summary = { $total } 件中 { $verified } 件の記録を復号・検証しました。
crypto-reader-chain-start = 最初に書かれた記録からチェーンが始まっています（それより前の欠落はありません）。
crypto-reader-clean = 問題は見つかりませんでした。すべての記録が Libral に署名され、書かれた時のグループとトピックにあり、最初の記録から署名付きヘッドが示す最後の記録まで欠落も順序の入れ替わりもありません。
crypto-reader-transcript = 記録の内容
crypto-reader-general = 一般
crypto-reader-unreadable = 読めませんでした（{ $detail }）。
crypto-reader-finding-forged = { $source }（記録 { $seq }）: Libral のサーバー鍵で署名されていません。偽造の可能性があります。
crypto-reader-finding-moved = { $source }（記録 { $seq }）: ここへ移動またはコピーされた記録です — { $detail }。
crypto-reader-finding-missing = { $source }（記録 { $seq }）の前: 記録 { $detail } が欠けています。
crypto-reader-finding-reordered = { $source }（記録 { $seq }）: 順序が入れ替わっています — { $detail } の後に現れます。
crypto-reader-finding-chain-broken = { $source }（記録 { $seq }）: 直前の記録とつながっていません（差し替えまたは偽造）。
crypto-reader-finding-duplicate = { $source }（記録 { $seq }）: 複数回現れます。
crypto-reader-finding-damaged = { $source }: 破損しているか、あなたの鍵宛てではありません（{ $detail }）。
crypto-reader-finding-malformed = { $source }: 署名された内容が Libral の記録ではありません（{ $detail }）。
crypto-reader-finding-file-missing = { $source }: .asc ファイルがエクスポートに含まれていません。「ファイル」を有効にしてもう一度エクスポートしてください。
crypto-reader-written = 書き起こしを { $path } に保存しました。
crypto-reader-bad-key = 秘密鍵を使えません: { $reason }
crypto-reader-no-server-key = サーバー鍵が指定されていないため、署名を確認できません。ボットに /serverkey を送り、届いた .asc ファイルを保存して --server-key で指定してください。
