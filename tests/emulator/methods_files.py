"""Documents and photos: uploads (multipart), re-sending by file_id, getFile."""

from __future__ import annotations

import io
import mimetypes
from typing import Any

from .errors import TelegramError, bad_request
from .messaging import caption_text, check_reply_markup, resolve_reply
from .registry import Call, registry
from .schema import UploadedFile
from .state import StoredFile

MAX_UPLOAD = 50 * 1024 * 1024
MAX_PHOTO_UPLOAD = 10 * 1024 * 1024
MAX_DOWNLOAD = 20 * 1024 * 1024
THUMB_SIDE = 90


def _resolve_input(call: Call, name: str, kind: str) -> StoredFile:
    emu = call.emu
    value = call.get_file(name)
    if isinstance(value, UploadedFile):
        limit = MAX_PHOTO_UPLOAD if kind == "photo" else MAX_UPLOAD
        if len(value.data) > limit:
            raise TelegramError(413, "Request Entity Too Large")
        if not value.data:
            raise bad_request("file must be non-empty")
        mime = value.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(value.filename)[0] or "application/octet-stream"
        return emu.state.store_file(value.data, kind, file_name=value.filename, mime_type=mime)
    if isinstance(value, str):
        if value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        stored = emu.state.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if kind == "photo" and stored.kind != "photo":
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored
    raise bad_request(f"there is no {kind} in the request")


def _send_media(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    emu = call.emu
    chat = emu.writable_chat(call.chat_ref())
    thread_id = emu.resolve_thread(chat, call.opt_int("message_thread_id"))
    body.update(
        caption_text(
            call.opt_str("caption"), call.opt_str("parse_mode"), call.get_list("caption_entities")
        )
    )
    markup = check_reply_markup(call.get_obj("reply_markup"))
    reply_to = resolve_reply(emu, chat, call.get_obj("reply_parameters"))
    message = emu.add_message(
        chat, emu.bot_user, body, thread_id=thread_id, reply_markup=markup, reply_to=reply_to
    )
    return message.data


def document_object(stored: StoredFile) -> dict[str, Any]:
    data: dict[str, Any] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.content),
    }
    if stored.file_name:
        data["file_name"] = stored.file_name
    if stored.mime_type:
        data["mime_type"] = stored.mime_type
    return data


def photo_sizes(call: Call, stored: StoredFile) -> list[dict[str, Any]]:
    """A thumbnail and the full size, as Telegram returns for a photo."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(stored.content)) as image:
            width, height = image.size
            thumb = image.copy()
            thumb.thumbnail((THUMB_SIDE, THUMB_SIDE))
            buffer = io.BytesIO()
            thumb.convert("RGB").save(buffer, format="JPEG")
    except (UnidentifiedImageError, OSError) as exc:
        raise bad_request("IMAGE_PROCESS_FAILED") from exc
    sizes = []
    if max(width, height) > THUMB_SIDE:
        small = call.emu.state.store_file(buffer.getvalue(), "photo", mime_type="image/jpeg")
        sizes.append(
            {
                "file_id": small.file_id,
                "file_unique_id": small.file_unique_id,
                "file_size": len(small.content),
                "width": thumb.width,
                "height": thumb.height,
            }
        )
    sizes.append(
        {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "width": width,
            "height": height,
        }
    )
    return sizes


@registry.method("sendDocument")
async def send_document(call: Call) -> dict[str, Any]:
    stored = _resolve_input(call, "document", "document")
    return _send_media(call, {"document": document_object(stored)})


@registry.method("sendPhoto")
async def send_photo(call: Call) -> dict[str, Any]:
    stored = _resolve_input(call, "photo", "photo")
    return _send_media(call, {"photo": photo_sizes(call, stored)})


@registry.method("getFile")
async def get_file(call: Call) -> dict[str, Any]:
    stored = call.emu.state.files.get(call.get_str("file_id"))
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.content) > MAX_DOWNLOAD:
        raise bad_request("file is too big")
    return stored.to_file()


def sticker_object(stored: StoredFile, emoji: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "file_size": len(stored.content),
    }
    if emoji:
        data["emoji"] = emoji
    return data


@registry.method("sendSticker")
async def send_sticker(call: Call) -> dict[str, Any]:
    # Telegram takes a sticker's file id (only a sticker's) or an uploaded WEBP/TGS/WEBM file;
    # stickers carry no caption.
    value = call.get_file("sticker")
    if isinstance(value, str) and not value.startswith(("http://", "https://")):
        stored = call.emu.state.files.get(value)
        if stored is None or stored.kind != "sticker":
            raise bad_request("wrong file identifier/HTTP URL specified")
    else:
        stored = _resolve_input(call, "sticker", "sticker")
    return _send_media(call, {"sticker": sticker_object(stored, call.opt_str("emoji"))})
