# The button that opens the operators' dashboard (Mini App) from the chat
dashboard-btn-open = 📊 Dashboard
