# Mini App strings shared by every page (served to the page as JSON: /app/strings/en.json)
webapp-refused-missing = Please open this from Telegram (no sign-in data).
webapp-refused-invalid = Your sign-in data could not be checked. Open the page again from the button in Telegram.
webapp-refused-stale = Your sign-in data has expired (after 1 hour). Open the page again from the button in Telegram.
webapp-refused-forbidden = You are not allowed to use this page.
webapp-error-network = Could not reach the server. Please try again in a moment.
webapp-loading = Loading…
