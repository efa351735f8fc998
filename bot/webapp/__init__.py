"""The Telegram Mini App: our own pages served by our aiohttp server under ``/app/``.

``server.py`` builds the sub-application (pages, static files, catalogues as JSON, the API with
its ``initData`` check), ``auth.py`` checks ``initData``, ``routes/`` holds one module per
feature page. How a feature adds a page and an API route: docs/webapp.md.

Kept import-free: ``bot.settings`` imports ``bot.webapp.config``.
"""
