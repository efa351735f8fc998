# Stars payments: /buy, /subscription, /paysupport, /terms, receipts, refunds.
cmd-buy = クレジットを購入
cmd-subscription = 月額プランの確認・変更
cmd-paysupport = 支払いのサポート・返金
cmd-terms = 利用条件

pay-buy-intro =
    <b>クレジットの購入</b>（Telegram Stars）
    現在の残高: { $balance } クレジット
    パックを選ぶと請求書が届きます。月額プランは 30 日ごとにクレジットが追加されます。
pay-buy-empty = 現在、購入できる商品はありません。
pay-pack-button = { $credits } クレジット — ⭐{ $stars }
pay-sub-button = 月額プラン: 毎月 { $credits } クレジット — ⭐{ $stars }/月
pay-pack-title = { $credits } クレジット
pay-pack-description = AI チャットに使える { $credits } クレジットです。クレジットに有効期限はありません。
pay-price-label = { $credits } クレジット
pay-sub-title = Libral 月額プラン
pay-sub-description = 30 日ごとに { $credits } クレジットを追加します。解約するまで自動で更新されます。
pay-sub-link-text = 下のボタンから月額プラン（⭐{ $stars }/月、毎月 { $credits } クレジット）に登録できます。
pay-sub-link-button = 登録する ⭐{ $stars }/月
pay-disabled = 現在、支払いを受け付けていません。しばらくしてからお試しください。
pay-item-gone = この商品は現在販売していません。/buy からもう一度選んでください。
pay-invoice-failed = 請求書を作成できませんでした。しばらくしてからもう一度お試しください。

pay-refused-unknown-item = この商品は見つかりません。/buy からもう一度お選びください。
pay-refused-stale = 価格または内容が変わりました。/buy から新しい請求書を開いてください。
pay-refused-banned = このアカウントでは購入できません。
pay-refused-already-subscribed = すでに月額プランに登録済みです。/subscription で確認できます。
pay-refused-disabled = 現在、支払いを受け付けていません。

pay-receipt-pack =
    お支払いありがとうございます（⭐{ $stars }）。
    { $credits } クレジットを追加しました。残高: { $balance } クレジット
pay-receipt-subscription =
    月額プランに登録しました（⭐{ $stars }）。
    { $credits } クレジットを追加しました。残高: { $balance } クレジット
    次回の更新: { $date }
pay-receipt-renewal =
    月額プランを更新しました（⭐{ $stars }）。
    { $credits } クレジットを追加しました。残高: { $balance } クレジット
    次回の更新: { $date }
pay-receipt-unknown = お支払いを受け取りましたが、内容を確認できませんでした。運営者が確認して対応します。/paysupport をご覧ください。

pay-sub-none = 月額プランには登録していません。
pay-sub-active =
    <b>月額プラン</b>: 有効（{ $date } まで）
    毎月 { $credits } クレジット。期間の終わりに自動で更新されます。
pay-sub-canceled =
    <b>月額プラン</b>: { $date } まで有効
    自動更新は停止しています。期間の終わりに終了します。
pay-sub-failed =
    <b>月額プラン</b>: { $date } まで有効
    前回の更新の支払いに失敗しました。Telegram の設定から支払いを確認してください。
pay-sub-cancel-button = 自動更新を停止
pay-sub-resume-button = 自動更新を再開
pay-sub-subscribe-button = 月額プランに登録
pay-sub-cancel-done = 自動更新を停止しました。{ $date } まではご利用いただけます。
pay-sub-resume-done = 自動更新を再開しました。次回の更新: { $date }
pay-sub-edit-failed = Telegram で設定を変更できませんでした。Telegram の画面で自動更新を停止した場合は、そちら（設定 → My Stars）から再開してください。それ以外の場合は、しばらくしてからもう一度お試しください。
pay-sub-not-current = 有効な月額プランがありません。/buy から登録できます。
pay-sub-update-active = 月額プランの自動更新が再開されました（{ $date } まで有効）。
pay-sub-update-canceled = 月額プランの自動更新が停止されました。{ $date } まではご利用いただけます。
pay-sub-update-failed = 月額プランの更新の支払いに失敗しました。{ $date } まではご利用いただけます。

pay-support-text =
    <b>支払いのサポート</b>
    { $hours ->
        [0] 返金のご依頼は運営者が確認します。
       *[other] 返金は、支払いから { $hours } 時間以内で、そのクレジットを使っていない場合は、すぐに自動で行われます。それ以外は運営者が確認します。
    }
    返金される Stars は支払い全額で、追加されたクレジットは残高から差し引かれます（残高がマイナスになることはありません）。
    詳しくは /terms をご覧ください。
pay-support-pick = 返金を希望する支払いを選んでください:
pay-support-none = 最近 { $days } 日間に返金できる支払いはありません。
pay-support-item = { $date } · ⭐{ $stars } · { $credits } クレジット
pay-refund-confirm = ⭐{ $stars } を返金し、{ $credits } クレジットを残高から差し引きます。よろしいですか?
pay-refund-yes = 返金する
pay-refund-no = やめる
pay-refund-kept = 返金はしませんでした。
pay-refund-done =
    ⭐{ $stars } を返金しました。
    { $reversed } クレジットを差し引きました。残高: { $balance } クレジット
pay-refund-refused-not-found = この支払いは見つかりません。
pay-refund-refused-already-refunded = この支払いはすでに返金済みです。
pay-refund-refused-window-passed = 支払いから { $hours } 時間を過ぎているため、自動では返金できません。運営者に確認を依頼しました。
pay-refund-refused-manual-only = 返金のご依頼を受け付けました。運営者が確認して対応します。
pay-refund-refused-credits-used = この支払いのクレジットがすでに使われているため、自動では返金できません。運営者に確認を依頼しました。
pay-refund-refused-telegram-refused = Telegram が返金を受け付けませんでした。しばらくしてからもう一度お試しください。
pay-refunded-notice =
    ⭐{ $stars } の返金を確認しました。
    { $reversed } クレジットを差し引きました。残高: { $balance } クレジット
pay-refunded-shortfall = （{ $shortfall } クレジットはすでに使われていたため、差し引けませんでした。）

pay-terms =
    <b>利用条件（支払い）</b>
    • 支払いは Telegram Stars で行います。購入したクレジットは AI チャットの利用に使えます。有効期限はありません。
    • 月額プランは 30 日ごとに自動で更新され、そのたびにクレジットが追加されます。/subscription からいつでも自動更新を停止できます。停止しても期間の終わりまでは有効です。
    • 返金: { $hours ->
        [0] /paysupport からご依頼ください。運営者が個別に判断します。返金は支払い全額で、追加されたクレジットは残高の範囲で差し引かれます。
       *[other] 支払いから { $hours } 時間以内で、そのクレジットを使っていなければ /paysupport からすぐに返金されます。それ以外は運営者が個別に判断します。返金は支払い全額で、追加されたクレジットは残高の範囲で差し引かれます。
    }
    • 保存するのは支払いの ID、金額、日時だけです。支払いの記録はあなたのログサーバーの「Billing」トピックに暗号化して届きます。
    • 支払いに関するお問い合わせ: /paysupport
pay-receipt-pending = お支払いを受け付けました。クレジットはまもなく反映されます。再度お支払いいただく必要はありません。しばらくしても反映されない場合は /paysupport をご覧ください。
pay-reconciled =
    こちらに届いていなかった { $stars } ⭐ のお支払いを確認し、反映しました: { $credits } クレジットを追加しました。
    残高: { $balance } クレジット
pay-refunded-by-admin =
    運営者が { $stars } ⭐ のお支払いを返金しました。{ $reversed } クレジットを差し引きました。
    残高: { $balance } クレジット
pay-credited-late =
    { $stars } ⭐ のお支払いを反映しました: { $credits } クレジットを追加しました。お待たせして申し訳ありません。
    残高: { $balance } クレジット
