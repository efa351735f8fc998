# 運用ダッシュボード（Mini App）をチャットから開くボタン
dashboard-btn-open = 📊 ダッシュボード
