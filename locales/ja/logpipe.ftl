# ログサーバーの配信側（自己修復、監査記録、鍵の期限）

logserver-topics-recreated = 削除されていたトピックを作り直しました: { $topics }。待っていた記録はそこに届きます。
logserver-test-cannot-deliver = ログサーバーに今は届けられません。/logserver →「もう一度確認」で直してから、もう一度お試しください。
logserver-panel-head = 署名付きの先頭（リーダーがログの欠けを確かめるためのもの）:
