# ログサーバーの配信側（自己修復、監査記録、鍵の期限）

logserver-topics-recreated = 削除されていたトピックを作り直しました: { $topics }。待っていた記録はそこに届きます。
logserver-test-cannot-deliver = ログサーバーに今は届けられません。/logserver →「もう一度確認」で直してから、もう一度お試しください。
logserver-panel-head = 署名付きの先頭（リーダーがログの欠けを確かめるためのもの）:
logserver-key-expiring = ログサーバーの公開鍵はあと { $days } 日で期限が切れます。期限を延ばした鍵か新しい鍵を /logserver →「鍵を変更」から送ってください。
logserver-key-check-key-expired = ログサーバーの公開鍵の期限が切れたため、記録を一時停止しました。新しい鍵を /logserver →「鍵を変更」から送ると再開し、待っている記録はその鍵で暗号化されます。
logserver-key-check-key-revoked = ログサーバーの公開鍵が失効しているため、記録を一時停止しました。新しい鍵を /logserver →「鍵を変更」から送ると再開し、待っている記録はその鍵で暗号化されます。
logserver-key-check-key-unusable = ログサーバーの公開鍵は暗号化に使えなくなった（暗号化用の副鍵が期限切れか失効）ため、記録を一時停止しました。新しい鍵を /logserver →「鍵を変更」から送ってください。
logserver-reason-key-expired = 公開鍵の期限が切れています。新しい鍵を送ると記録を再開します。
logserver-reason-key-revoked = 公開鍵が失効しています。新しい鍵を送ると記録を再開します。
logserver-reason-key-unusable = 公開鍵が暗号化に使えません。新しい鍵を送ると記録を再開します。
