# 閲覧ツール（python -m bot.reader）: 署名付きヘッド、記録の切り取り、鍵ファイルの問題
crypto-reader-finding-cut-start = { $source }（記録 { $seq }）より前: ログの始めの記録 { $detail } が欠けています。
crypto-reader-finding-cut-end = { $source } より後: 末尾の記録 { $detail } が欠けています（固定メッセージの署名付きヘッドは記録 { $seq } まで届いたと示しています）。
crypto-reader-finding-no-head = 署名付きヘッド（グループに固定されたパネルのメッセージ）が見つかりません。末尾の記録が消されても検出できません。固定メッセージを含めてグループ全体をエクスポートしてください。
crypto-reader-finding-head-forged = { $source }: 署名付きヘッドが Libral のサーバー鍵で署名されていません。エクスポートが改ざんされています（{ $detail }）。
crypto-reader-finding-head-moved = { $source }: 別のグループの署名付きヘッドです（{ $detail }）。
crypto-reader-finding-head-mismatch = { $source }（記録 { $seq }）: 署名付きヘッドが示す記録と違います（差し替え）。
reader-head = 固定メッセージの署名付きヘッド: 最後に届けた記録は { $seq }（{ $ts }）。
reader-key-unreadable = { $name }: 鍵ファイルを読めません（{ $reason }）。
reader-key-not-openpgp = { $name }: OpenPGP の鍵ではありません。
reader-key-public-key = { $name }: これは公開鍵です。--key にはあなたの秘密鍵（鍵を作ったときに保存したファイル）を指定してください。
reader-key-bad-passphrase = { $name }: この鍵のパスフレーズが違います（LIBRAL_KEY_PASSPHRASE または入力したもの）。
reader-input-missing = { $path }: そのファイルまたはフォルダはありません。
reader-server-key-unreadable = { $path }: 公開鍵として読めません（{ $reason }）。
reader-output-failed = 書き起こしを { $path } に保存できません（{ $reason }）。
reader-passphrase-prompt = { $name } のパスフレーズ: 
