# Update delivery: what the user hears while the service is briefly unavailable.
error-unavailable = ただいま一時的に処理できません。復旧しだい、このメッセージに対応します。送り直す必要はありません。
