"""The ceiling for bench/update_bench.py: a bare aiogram bot answering `/help` with one
`sendMessage`, in webhook mode like Libral (same aiohttp handler, same emulator).

    BOT_TOKEN=… TELEGRAM_API_URL=… WEBHOOK_URL=… WEBHOOK_SECRET=… HTTP_PORT=… \
        python -m bench.bare_bot
"""

from __future__ import annotations

import asyncio
import os
import signal

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

HELP = "/help — how to use this bot\n/start — start"


async def show_help(message: Message) -> None:
    await message.answer(HELP)


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    dp = Dispatcher()
    dp.message.register(show_help, Command("help"))
    secret = os.environ["WEBHOOK_SECRET"]
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    SimpleRequestHandler(dp, bot, secret_token=secret).register(app, path="/webhook")
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(os.environ["HTTP_PORT"])).start()
    await bot.set_webhook(os.environ["WEBHOOK_URL"], secret_token=secret)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await bot.session.close()


if __name__ == "__main__":
    asyncio.run(main())
