"""A fake Telegram Bot API server for end-to-end tests and benchmarks.

It is a real HTTP server on 127.0.0.1: the real PTB ``Application`` talks to it through
``base_url=f"{fake.url}/bot"``. It validates requests the way the Bot API does (the HTML parser
is a port of tdlib's ``parse_html``, error texts are those of telegram-bot-api), keeps the state
of every message, serves long polling, and can inject faults and flood limits.

Run it by hand with ``python -m tests.fake_telegram --token TOKEN --port 8081``; see ``main``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientSession, web

from tests.fake_server import FakeServer

log = logging.getLogger("fake_telegram")

JSONDict = dict[str, Any]

MAX_MESSAGE_LENGTH = 4096  # visible text, UTF-16 code units
MAX_RAW_TEXT_BYTES = 1 << 15  # telegram-bot-api refuses longer raw text before parsing
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_RESULTS = 50
MAX_INLINE_RESULT_ID_BYTES = 64
MAX_BUTTONS = 100
# Not in the Bot API's text; Telegram's known limit (tginfo/Telegram-Limits), checked strictly.
MAX_BUTTONS_PER_ROW = 8
# Group senders need an id when the test does not name one; private chats use the chat id.
DEFAULT_GROUP_USER_ID = 500_001
# The senders Telegram puts in ``from`` of messages written on behalf of a chat.
_GROUP_ANONYMOUS_BOT = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
_CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
FIRST_UPDATE_ID = 100_000

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """A Bot API error response: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(
        self, error_code: int, description: str, parameters: JSONDict | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JSONDict:
        """The response body Telegram would send."""
        body: JSONDict = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _lower_first(message: str) -> str:
    # telegram-bot-api lower-cases the first letter of tdlib's messages, except for
    # SERVER_ERROR_CODES (second character upper case or '_').
    if len(message) >= 2 and (message[1] == "_" or "A" <= message[1] <= "Z"):
        return message
    return message[:1].lower() + message[1:]


def bad_request(message: str) -> ApiError:
    """A 400 error whose description is built like telegram-bot-api builds it."""
    return ApiError(400, "Bad Request: " + _lower_first(message))


class EntityParseError(ValueError):
    """Formatted text that Telegram refuses; the message is tdlib's wording."""


# --------------------------------------------------------------------------------------------
# HTML parse mode: a port of tdlib's parse_html (td/telegram/MessageEntity.cpp)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedText:
    """Visible text of a message and its Bot API ``MessageEntity`` dicts."""

    text: str
    entities: list[JSONDict]


_SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_ENTITY_TYPES = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES = {b"lt": ord("<"), b"gt": ord(">"), b"amp": ord("&"), b"quot": ord('"')}
# tdlib's is_space() counts NUL, which also stands for "end of text" in its C-string scans.
_TD_SPACES = frozenset(b" \t\r\n\x00\x0b")
_TG_USER_LINK = re.compile(r"tg://user\?id=(\d+)$", re.IGNORECASE)
_UNKNOWN_NAMED_ENTITY = re.compile(rb"&([A-Za-z]+);")


def _is_space(c: int) -> bool:
    return c in _TD_SPACES


def _is_alpha(c: int) -> bool:
    return 65 <= c <= 90 or 97 <= c <= 122


def _is_digit(c: int) -> bool:
    return 48 <= c <= 57


def _is_hex_digit(c: int) -> bool:
    return _is_digit(c) or 65 <= c <= 70 or 97 <= c <= 102


def _decode_html_entity(data: bytes, pos: int) -> tuple[int, int]:
    """Decode the reference at ``data[pos] == '&'``: (code point, next pos) or (0, pos)."""
    n = len(data)

    def at(k: int) -> int:
        return data[k] if k < n else 0

    end = pos + 1
    code = 0
    if at(pos + 1) == ord("#"):
        end += 1
        if at(pos + 2) == ord("x"):
            end += 1
            while _is_hex_digit(at(end)):
                code = code * 16 + int(chr(at(end)), 16)
                end += 1
        else:
            while _is_digit(at(end)):
                code = code * 10 + at(end) - 48
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while _is_alpha(at(end)):
            end += 1
        code = _NAMED_ENTITIES.get(data[pos + 1 : end], 0)
        if code == 0:
            return 0, pos
    if at(end) == ord(";"):
        end += 1
    return code, end


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _checked_link(url: str) -> str | None:
    """Normalise a link like tdlib's LinkManager::get_checked_link, or None if it is dropped."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return None
    lower = url.lower()
    for scheme in ("tg", "ton", "tonsite"):
        if lower.startswith(scheme + ":"):
            rest = url[len(scheme) + 1 :].removeprefix("//")
            host = re.split(r"[/?#]", rest, maxsplit=1)[0]
            if not host or not re.fullmatch(r"[A-Za-z0-9_.-]+", host):
                return None
            return f"{scheme}://{rest}"
    if "://" in url:
        if not lower.startswith(("http://", "https://")):
            return None
    else:
        url = "http://" + url
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port, as tdlib's parse_url fails
    except ValueError:
        return None
    host = parts.hostname or ""
    # tdlib wants a dot in the host ("Wrong HTTP URL" otherwise), IPv6 aside.
    if "." not in host and "[" not in parts.netloc:
        return None
    if not parts.path:
        url = parts._replace(path="/").geturl()
    return url


def parse_html(text: str, *, strict: bool = True) -> ParsedText:
    """Parse Bot API HTML into visible text and entities, raising EntityParseError like tdlib.

    ``strict`` adds checks real Telegram does not make but that catch bot bugs: an unknown named
    entity such as ``&nbsp;`` (Telegram shows it literally), ``<a>`` nested in ``<a>`` or without
    ``href``, a link Telegram would silently drop, and a ``<blockquote>`` (plain or
    ``expandable``) inside another, which the Bot API's formatting rules forbid.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EntityParseError("Strings must be encoded in UTF-8") from exc
    n = len(data)

    def at(k: int) -> int:
        # tdlib scans a NUL-terminated C string; reading past the end yields 0.
        return data[k] if k < n else 0

    def tag_text(start: int, end: int) -> str:
        return data[start:end].lower().decode("utf-8", "replace")

    out = bytearray()
    utf16 = 0
    entities: list[JSONDict] = []
    # Open tags: name, argument, unix time (tg-time), utf16 offset, byte offset in out, tag start.
    nested: list[tuple[str, str, int, int, int, int]] = []
    bad_surrogate = False
    i = 0
    while i < n:
        c = data[i]
        if c == ord("&"):
            code, end = _decode_html_entity(data, i)
            if code:
                if 0xD800 <= code <= 0xDFFF:
                    bad_surrogate = True
                utf16 += 2 if code > 0xFFFF else 1
                out += chr(code).encode("utf-8", "surrogatepass")
                i = end
                continue
            if strict:
                unknown = _UNKNOWN_NAMED_ENTITY.match(data, i)
                if unknown:
                    raise EntityParseError(
                        f'Unsupported HTML entity "{unknown.group(0).decode()}" at byte offset {i} '
                        "(strict fake check: Telegram would show it literally)"
                    )
        if c != ord("<"):
            if (c & 0xC0) != 0x80:
                utf16 += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != ord("/"):
            # A start tag.
            while not _is_space(at(i)) and at(i) != ord(">"):
                i += 1
            if at(i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            tag = tag_text(begin + 1, i)
            if tag not in _SUPPORTED_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')

            argument = ""
            unix_time = 0
            has_href = False
            while at(i) != ord(">"):
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) == ord(">"):
                    break
                name_start = i
                while not _is_space(at(i)) and at(i) not in b"=>/\"'":
                    i += 1
                attribute = data[name_start:i].decode("utf-8", "replace")
                if not attribute:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                    )
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) != ord("="):
                    if at(i) == 0:
                        raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                    if tag == "blockquote" and attribute == "expandable":
                        argument = "1"
                    continue
                i += 1
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')

                value_bytes = bytearray()
                if at(i) not in b"'\"":
                    # A name token: letters, digits, periods or hyphens, case-insensitive.
                    token_start = i
                    while _is_alpha(at(i)) or _is_digit(at(i)) or at(i) in b".-":
                        i += 1
                    value_bytes += data[token_start:i].lower()
                    if not _is_space(at(i)) and at(i) != ord(">"):
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset {token_start}"
                        )
                else:
                    quote = at(i)
                    i += 1
                    while at(i) != quote and at(i) != 0:
                        if at(i) == ord("&"):
                            code, end = _decode_html_entity(data, i)
                            if code:
                                value_bytes += chr(code).encode("utf-8", "surrogatepass")
                                i = end
                                continue
                        value_bytes.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                if at(i) == 0:
                    raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
                value = bytes(value_bytes).decode("utf-8", "replace")

                if tag == "a" and attribute == "href":
                    argument = value
                    has_href = True
                elif tag == "code" and attribute == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attribute == "emoji-id":
                    argument = value
                elif tag == "blockquote" and attribute == "expandable":
                    argument = "1"
                elif tag == "tg-time" and attribute == "unix":
                    unix_time = int(value) if value.isdigit() else 0
                elif tag == "tg-time" and attribute == "format":
                    argument = value

            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            if strict and tag == "a":
                if any(open_tag[0] == "a" for open_tag in nested):
                    raise EntityParseError(
                        f'Nested tag "a" at byte offset {begin} (strict fake check: Telegram '
                        "would drop one of the links)"
                    )
                if not has_href:
                    raise EntityParseError(
                        f'Tag "a" without "href" at byte offset {begin} (strict fake check)'
                    )
            if strict and tag == "blockquote" and any(t[0] == "blockquote" for t in nested):
                # The Bot API's formatting rules: blockquote and expandable_blockquote
                # entities can't be nested.
                raise EntityParseError(
                    f'Nested tag "blockquote" at byte offset {begin} (strict fake check: '
                    "blockquotes can't be nested)"
                )
            nested.append((tag, argument, unix_time, utf16, len(out), begin))
            i += 1  # past '>'
            continue

        # An end tag.
        if not nested:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        while not _is_space(at(i)) and at(i) != ord(">"):
            i += 1
        end_tag = tag_text(begin + 2, i)
        while _is_space(at(i)) and at(i) != 0:
            i += 1
        if at(i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        tag, argument, unix_time, offset, out_pos, tag_begin = nested[-1]
        if end_tag and end_tag != tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                f'found "</{end_tag}>"'
            )
        length = utf16 - offset
        if length > 0:
            entity = _make_entity(
                tag,
                argument,
                unix_time=unix_time,
                offset=offset,
                length=length,
                inner=bytes(out[out_pos:]),
                entities=entities,
            )
            if entity is None and strict and tag == "a":
                raise EntityParseError(
                    f'Invalid link "{argument}" in tag "a" at byte offset {tag_begin} '
                    "(strict fake check: Telegram would drop the link)"
                )
            if entity is not None:
                entities.append(entity)
        nested.pop()
        i += 1  # past '>'

    if nested:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    if bad_surrogate:
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        )
    for entity in entities:
        # tdlib keeps a language only on pre; a lone <code class="language-x"> loses it.
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText(out.decode("utf-8"), entities)


def _make_entity(
    tag: str,
    argument: str,
    *,
    unix_time: int,
    offset: int,
    length: int,
    inner: bytes,
    entities: list[JSONDict],
) -> JSONDict | None:
    """Build the entity a closed tag produces; may merge into the previous pre/code entity."""
    base: JSONDict = {"offset": offset, "length": length}
    if tag in _SIMPLE_ENTITY_TYPES:
        return {"type": _SIMPLE_ENTITY_TYPES[tag], **base}
    if tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        return {"type": "custom_emoji", **base, "custom_emoji_id": argument}
    if tag == "tg-time":
        if unix_time <= 0:
            return None
        entity: JSONDict = {"type": "date_time", **base, "unix_time": unix_time}
        if argument:
            entity["date_time_format"] = argument
        return entity
    if tag == "a":
        url = argument or inner.decode("utf-8", "replace")
        mention = _TG_USER_LINK.match(url)
        if mention:
            user = {"id": int(mention.group(1)), "is_bot": False, "first_name": "User"}
            return {"type": "text_mention", **base, "user": user}
        checked = _checked_link(url)
        if checked is None:
            return None
        return {"type": "text_link", **base, "url": checked}
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == offset and last["length"] == length
    if tag == "pre":
        if last is not None and same_span and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
            return None
        return {"type": "pre", **base}
    if tag == "code":
        if last is not None and same_span and last["type"] == "pre" and argument:
            last["language"] = argument
            return None
        entity = {"type": "code", **base}
        if argument:
            entity["language"] = argument  # dropped later unless a <pre> wraps it
        return entity
    if tag == "blockquote":
        kind = "expandable_blockquote" if argument else "blockquote"
        return {"type": kind, **base}
    raise AssertionError(f"unhandled tag {tag}")  # pragma: no cover - _SUPPORTED_TAGS guards


_EMPTY_CHARACTERS = re.compile(
    "[\u1680\u180e\u2000-\u200a\u202e\u202f\u205f\u2800\u3000\ufffc\U000e0000-\U000e01ff]"
)


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim like tdlib's fix_formatted_text: spaces/newlines at the end, and at the start up to
    the first entity; clip entities to what is left."""
    stripped = text.rstrip(" \n")
    if stripped != text:
        limit = _utf16_len(stripped)
        clipped: list[JSONDict] = []
        for entity in entities:
            if entity["offset"] >= limit:
                continue
            end = min(entity["offset"] + entity["length"], limit)
            clipped.append({**entity, "length": end - entity["offset"]})
        entities, text = clipped, stripped
    first_entity = min((e["offset"] for e in entities), default=_utf16_len(text))
    lead = 0
    while lead < len(text) and lead < first_entity and text[lead] in " \n":
        lead += 1
    if lead:
        text = text[lead:]
        entities = [{**e, "offset": e["offset"] - lead} for e in entities]
    return text, entities


def _is_empty_text(text: str) -> bool:
    return not _EMPTY_CHARACTERS.sub(" ", text).replace("\u00a0", " ").strip()


def format_text(
    text: Any,
    parse_mode: Any,
    entities: Any,
    *,
    strict: bool = True,
    max_length: int | None = MAX_MESSAGE_LENGTH,
) -> ParsedText:
    """Turn a text/parse_mode/entities triple into what Telegram stores, or raise ApiError."""
    if isinstance(text, bool) or text is None:
        text = ""
    if isinstance(text, int | float):
        text = str(text)
    if not isinstance(text, str) or not text:
        raise bad_request("Message text is empty")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_RAW_TEXT_BYTES:
        raise bad_request("Text is too long")
    mode = parse_mode.lower() if isinstance(parse_mode, str) else ""
    if mode and mode != "none":
        if mode == "html":
            try:
                parsed = parse_html(text, strict=strict)
            except EntityParseError as exc:
                raise bad_request(f"Can't parse entities: {exc}") from exc
        elif mode in ("markdown", "markdownv2"):
            # Markdown is not validated by this fake: the project sends HTML only.
            parsed = ParsedText(text, [])
        else:
            raise bad_request("Unsupported parse_mode")
    else:
        parsed = ParsedText(text, _check_entities(entities))
    plain, final_entities = _trim(parsed.text, parsed.entities)
    if _is_empty_text(plain):
        raise bad_request("Message text is empty")
    if max_length is not None and _utf16_len(plain) > max_length:
        raise bad_request("Message is too long")
    return ParsedText(plain, final_entities)


def _check_entities(entities: Any) -> list[JSONDict]:
    if entities is None or entities == "":
        return []
    if isinstance(entities, str):
        raise bad_request("Can't parse entities JSON object")
    if not isinstance(entities, list):
        return []
    checked: list[JSONDict] = []
    for entity in entities:
        if not isinstance(entity, dict):
            raise bad_request("Can't parse MessageEntity: expected an Object")
        for key in ("offset", "length"):
            if not isinstance(entity.get(key), int):
                raise bad_request(
                    f'Can\'t parse MessageEntity: Field "{key}" must be a valid Number'
                )
        if not isinstance(entity.get("type"), str):
            raise bad_request('Can\'t parse MessageEntity: Field "type" must be of type String')
        checked.append(dict(entity))
    return checked


def html_to_plain(text: str) -> str:
    """Visible text of Bot API HTML (lenient: no strict checks, no trimming)."""
    return parse_html(text, strict=False).text


# --------------------------------------------------------------------------------------------
# Reply markup
# --------------------------------------------------------------------------------------------

_BUTTON_KINDS = (
    "url",
    "callback_data",
    "callback_game",
    "pay",
    "switch_inline_query",
    "switch_inline_query_chosen_chat",
    "switch_inline_query_current_chat",
    "login_url",
    "web_app",
    "copy_text",
)


def _button_error(message: str) -> ApiError:
    return bad_request(f"Can't parse inline keyboard button: {message}")


def _check_inline_button(button: Any, *, strict: bool) -> None:
    """Validate one InlineKeyboardButton the way telegram-bot-api and the server do."""
    if not isinstance(button, dict):
        raise _button_error("InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise _button_error('Can\'t find field "text"')
    if not isinstance(button["text"], str):
        raise _button_error('Field "text" must be of type String')
    if strict and not button["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID (strict fake check: empty button text)")
    # telegram-bot-api takes the first kind present, in this order; empty url/data count as
    # absent, which is why an empty callback_data ends in "Text buttons are unallowed".
    kinds = [
        kind
        for kind in _BUTTON_KINDS
        if kind in button and (kind not in ("url", "callback_data") or button[kind] != "")
    ]
    if not kinds:
        raise _button_error("Text buttons are unallowed in the inline keyboard")
    if strict and len(kinds) > 1:
        raise _button_error(
            f"exactly one of the optional fields must be used, got {', '.join(kinds)} "
            "(strict fake check)"
        )
    kind = kinds[0]
    value = button[kind]
    string_kinds = (
        "url",
        "callback_data",
        "switch_inline_query",
        "switch_inline_query_current_chat",
    )
    if kind in string_kinds and not isinstance(value, str):
        raise _button_error(f'Field "{kind}" must be of type String')
    if kind == "callback_data" and len(value.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES:
        raise bad_request("BUTTON_DATA_INVALID")
    if kind == "url" and _checked_link(value) is None:
        raise bad_request("BUTTON_URL_INVALID")


def check_reply_markup(markup: Any, *, strict: bool = True) -> JSONDict | None:
    """Validate ``reply_markup``; return the inline keyboard a message keeps, if any."""
    if markup is None or markup == "":
        return None
    if isinstance(markup, str):
        raise bad_request("Can't parse reply keyboard markup JSON object")
    if not isinstance(markup, dict):
        raise bad_request("Object expected as reply markup")
    if "keyboard" in markup:
        keyboard = markup["keyboard"]
        if not isinstance(keyboard, list):
            raise bad_request('Field "keyboard" must be of type Array')
        for row in keyboard:
            if not isinstance(row, list):
                raise bad_request('Field "keyboard" must be an Array of Arrays')
            for button in row:
                if isinstance(button, dict) and not isinstance(button.get("text"), str):
                    raise bad_request("Can't parse keyboard button: Can't find field \"text\"")
                if not isinstance(button, dict | str):
                    raise bad_request(
                        "Can't parse keyboard button: KeyboardButton must be a String or an Object"
                    )
    if "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list):
        raise bad_request('Field "inline_keyboard" must be of type Array')
    count = 0
    for row in rows:
        if not isinstance(row, list):
            raise bad_request(
                'Field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        for button in row:
            _check_inline_button(button, strict=strict)
            count += 1
        if strict and len(row) > MAX_BUTTONS_PER_ROW:
            raise bad_request(
                f"BUTTON_TYPE_INVALID (strict fake check: {len(row)} buttons in a row, "
                f"Telegram shows at most {MAX_BUTTONS_PER_ROW})"
            )
    if count > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    if count == 0:
        return None
    return {"inline_keyboard": [[dict(button) for button in row] for row in rows if row]}


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class RateLimit:
    """Flood limits for sendMessage; beyond them the fake answers 429 like Telegram.

    ``global_per_second`` holds for messages without ``allow_paid_broadcast``;
    ``paid_per_second`` for those with it, while the Star balance pays for them.
    """

    global_per_second: float = 30
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    retry_after: int = 1
    paid_per_second: float = 1000


# Paid broadcasts (Bot API sendMessage allow_paid_broadcast): up to 1,000 messages a second,
# 0.1 Star for each message above the free 30 a second, from the bot's balance.
NANOSTARS_PER_STAR = 1_000_000_000
PAID_MESSAGE_NANOSTARS = NANOSTARS_PER_STAR // 10
FREE_BROADCAST_PER_SECOND = 30


@dataclass
class ApiCall:
    """One request the bot made; ``response`` stays None while it is in flight."""

    method: str
    params: JSONDict
    time: float
    response: JSONDict | None = None
    status: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return bool(self.response and self.response.get("ok"))

    @property
    def description(self) -> str | None:
        """The error description, if the call failed."""
        return None if self.response is None else self.response.get("description")


@dataclass
class SentMessage:
    """An accepted sendMessage: what the bot sent and what Telegram made of it."""

    chat_id: int
    message_id: int
    text: str  # raw text as sent (HTML when parse_mode is HTML)
    plain: str  # visible text, as the user sees it
    parse_mode: str | None
    reply_markup: JSONDict | None  # as sent (any keyboard kind)
    entities: list[JSONDict]
    disable_web_page_preview: bool | None
    link_preview_options: JSONDict | None
    time: float
    reply_to_update_id: int | None
    reply_to_update_time: float | None
    params: JSONDict = field(repr=False)

    @property
    def latency(self) -> float | None:
        """Seconds from the chat's latest update being enqueued to this message."""
        if self.reply_to_update_time is None:
            return None
        return self.time - self.reply_to_update_time


@dataclass
class EditRecord:
    """An accepted editMessageText/editMessageReplyMarkup call."""

    method: str
    chat_id: int | None
    message_id: int | None
    inline_message_id: str | None
    text: str | None  # raw, None for reply-markup-only edits
    plain: str | None
    parse_mode: str | None
    reply_markup: JSONDict | None
    time: float
    reply_to_update_id: int | None


@dataclass
class MessageState:
    """The current state of a message in a chat (bot's or user's)."""

    chat_id: int
    message_id: int
    from_bot: bool
    sender: JSONDict
    text: str  # raw text of the latest version
    plain: str
    entities: list[JSONDict]
    parse_mode: str | None
    reply_markup: JSONDict | None  # the inline keyboard shown under the message
    date: int
    edit_date: int | None = None
    edits: int = 0
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None


@dataclass
class CallbackAnswer:
    """An answerCallbackQuery call."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    time: float


@dataclass
class InlineAnswer:
    """An answerInlineQuery call."""

    inline_query_id: str
    results: list[JSONDict]
    cache_time: int | None
    is_personal: bool
    next_offset: str | None
    button: JSONDict | None
    time: float


@dataclass
class _Fault:
    method: str
    error_code: int
    description: str
    chat_id: int | None
    retry_after: int | None
    remaining: int


class _TokenBucket:
    """Refills ``rate`` tokens a second up to ``capacity``."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = time.monotonic()

    def ready(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens >= 1

    def take(self) -> None:
        self.tokens -= 1


# --------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------

# Form bodies carry every value as a string (PTB's requests JSON-encode all but str);
# these are decoded so tests read real types in ``ApiCall.params``.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "link_preview_options",
        "reply_parameters",
        "allowed_updates",
        "commands",
        "scope",
        "results",
        "button",
        "media",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "cache_time",
        "message_thread_id",
        "reply_to_message_id",
        "max_connections",
    }
)
_BOOL_FIELDS = frozenset(
    {
        "disable_web_page_preview",
        "disable_notification",
        "protect_content",
        "show_alert",
        "is_personal",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "allow_paid_broadcast",
    }
)
_INTEGER = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?\d+\.\d*")


def _coerce(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            return value  # left raw: the method reports it as unparsable, like Telegram
    if name in _INT_FIELDS:
        stripped = value.strip()
        if _INTEGER.fullmatch(stripped):
            return int(stripped)
        if _FLOAT.fullmatch(stripped):
            return int(float(stripped))
        return value
    if name in _BOOL_FIELDS:
        return value.strip().lower() in ("true", "1")
    return value


def _int_param(params: JSONDict, name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    raise bad_request(f"Wrong parameter {name} in request")


def _str_param(params: JSONDict, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _scope_key(scope: Any) -> str:
    """A readable key for a BotCommandScope: "default", "chat:42", "chat_member:42:7"."""
    if not isinstance(scope, dict):
        return "default"
    parts = [str(scope.get("type", "default"))]
    parts += [str(scope[key]) for key in ("chat_id", "user_id") if key in scope]
    return ":".join(parts)


_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_BOT_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

_Handler = Callable[[JSONDict], Awaitable[Any]]


class FakeTelegram(FakeServer):
    """An in-process fake of the Telegram Bot API over real HTTP on 127.0.0.1.

    ``url`` is ``http://127.0.0.1:<port>``: the TELEGRAM_API_URL for the bot.
    """

    client_max_size = 64 * 1024 * 1024  # big enough for any request a bot may send

    def __init__(
        self,
        token: str,
        *,
        bot_username: str = "digest_test_bot",
        bot_id: int = 7000001,
        rate_limit: RateLimit | None = None,
        strict: bool = True,
        control_endpoints: bool = False,
    ) -> None:
        super().__init__()
        self.token = token
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.rate_limit = rate_limit
        self.strict = strict
        self.control_endpoints = control_endpoints
        self.bot_user: JSONDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Digest Test Bot",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

        # What the bot did.
        self.requests: list[ApiCall] = []
        self.sent: list[SentMessage] = []
        self._sent_by_chat: dict[int, list[SentMessage]] = {}
        self.edits: list[EditRecord] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.inline_answers: list[InlineAnswer] = []
        self.chat_actions: list[tuple[int, str, float]] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}
        self.webhook: JSONDict | None = None
        # Where pushes for the registered (public, https) webhook URL really go: the upstream a
        # TLS-terminating reverse proxy forwards to, e.g. "http://127.0.0.1:8443". Unset, the
        # fake keeps updates pending, as Telegram does while a webhook is unreachable.
        self.webhook_upstream: str | None = None
        self.webhook_pushes: list[tuple[int, int]] = []  # (update_id, HTTP status; 0 = no answer)
        self._pusher: asyncio.Task[None] | None = None
        self.too_many_requests = 0

        # Updates.
        self.update_times: dict[int, float] = {}
        self.delivered_times: dict[int, float] = {}
        self.deliveries: Counter[int] = Counter()
        self.filtered_updates: list[JSONDict] = []
        self._pending: list[JSONDict] = []
        self._next_update_id = FIRST_UPDATE_ID
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._last_update_by_chat: dict[int, int] = {}

        # World state.
        self._messages: dict[tuple[int, int], MessageState] = {}
        self._inline_messages: dict[str, MessageState] = {}
        self._next_message_id: dict[int, int] = {}
        self._chats: dict[int, JSONDict] = {}
        self._users: dict[int, JSONDict] = {bot_id: self._bot_user_brief()}
        self._members: dict[tuple[int, int], str] = {}
        self._blocked: set[int] = set()
        self._forgotten: set[int] = set()
        self._migrated: dict[int, int] = {}  # old group id -> its supergroup's id
        self._callback_queries: dict[str, JSONDict] = {}
        self._inline_queries: dict[str, JSONDict] = {}
        self._answered_results: dict[str, list[JSONDict]] = {}
        self._query_ids = iter(range(4_000_000_000_000_000_001, 1 << 62))
        self._faults: list[_Fault] = []
        self._global_bucket: _TokenBucket | None = None
        self._paid_bucket: _TokenBucket | None = None
        self._chat_buckets: dict[int, _TokenBucket] = {}
        # Paid broadcasts: the Star balance (getMyStarBalance), the accepted messages sent with
        # allow_paid_broadcast, and those of them billed (above the free 30 a second).
        self.star_balance_nanostars = 0
        self.paid_messages = 0
        self.billed_messages = 0
        self._free_window: _TokenBucket | None = None

        self._changed = asyncio.Event()
        self._closing = False
        self._methods: dict[str, _Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "answerinlinequery": self._answer_inline_query,
            "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators,
            "getchat": self._get_chat,
            "getmystarbalance": self._get_my_star_balance,
            "sendchataction": self._send_chat_action,
            "close": self._return_true,
            "logout": self._return_true,
        }

    # --- lifecycle ---------------------------------------------------------------------------

    def _on_start(self) -> None:
        # Events bind to the running loop on first use; tests get a fresh loop each.
        self._changed = asyncio.Event()
        self._closing = False

    def _add_routes(self, app: web.Application) -> None:
        if self.control_endpoints:
            app.router.add_post("/_control/send", self._control_send)
            app.router.add_post("/_control/press", self._control_press)
            app.router.add_post("/_control/member", self._control_member)
            app.router.add_post("/_control/membership", self._control_membership)
            app.router.add_post("/_control/migrate", self._control_migrate)
            app.router.add_get("/_control/sent", self._control_sent)
            app.router.add_get("/_control/calls", self._control_calls)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)

    def _on_stop(self) -> None:
        # Wake pending long polls, so shutdown has nothing worth waiting for.
        self._closing = True
        self._notify()
        if self._pusher is not None:
            self._pusher.cancel()

    async def stop(self) -> None:
        """Shut the server down, and the webhook pusher with it."""
        await super().stop()
        if self._pusher is not None:
            pusher, self._pusher = self._pusher, None
            with contextlib.suppress(asyncio.CancelledError):
                await pusher

    async def _push_updates(self) -> None:
        """Deliver pending updates to the webhook one at a time, in order, like Telegram."""
        async with ClientSession() as http:
            while not self._closing:
                webhook, upstream = self.webhook, self.webhook_upstream
                if webhook is None or upstream is None or not self._pending:
                    await self._changed.wait()
                    continue
                update = self._pending[0]
                target = urlsplit(webhook["url"])
                url = upstream.rstrip("/") + (target.path or "/")
                headers = {"Content-Type": "application/json"}
                if webhook["secret_token"]:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
                try:
                    async with http.post(url, data=_dumps(update), headers=headers) as response:
                        status = response.status
                except ClientError:
                    status = 0
                self.webhook_pushes.append((update["update_id"], status))
                if 200 <= status < 300:
                    if self._pending and self._pending[0] is update:
                        self._pending.pop(0)
                    self.delivered_times.setdefault(update["update_id"], time.monotonic())
                    self.deliveries[update["update_id"]] += 1
                    self._notify()
                else:
                    await asyncio.sleep(0.2)  # Telegram retries a failed push later

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.url.rsplit(":", 1)[1])

    # --- what users do -------------------------------------------------------------------------

    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Тест",
        language_code: str = "ru",
        chat_title: str | None = None,
        sender_chat_id: int | None = None,
    ) -> JSONDict:
        """A user writes ``text`` in the chat; returns the enqueued Update dict.

        ``sender_chat_id`` sends it on behalf of a chat: the group itself (an anonymous admin)
        or a channel (a user posting as their channel), as Telegram delivers those.
        """
        if user_id is None:
            user_id = chat_id if chat_type == "private" else DEFAULT_GROUP_USER_ID
        user = self._remember_user(user_id, first_name, language_code)
        chat = self._remember_chat(chat_id, chat_type, first_name, chat_title)
        message_id = self._new_message_id(chat_id)
        message: JSONDict = {"message_id": message_id, "date": int(time.time()), "chat": chat}
        if chat_type == "channel":
            message["sender_chat"] = chat
        elif sender_chat_id == chat_id:
            message["from"] = _GROUP_ANONYMOUS_BOT
            message["sender_chat"] = chat
        elif sender_chat_id is not None:
            message["from"] = _CHANNEL_BOT
            message["sender_chat"] = {"id": sender_chat_id, "type": "channel", "title": "Channel"}
        else:
            message["from"] = user
        message["text"] = text
        command = _BOT_COMMAND.match(text)
        entities = []
        if command:
            entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command[0])})
            message["entities"] = entities
        self._messages[(chat_id, message_id)] = MessageState(
            chat_id=chat_id,
            message_id=message_id,
            from_bot=False,
            sender=user,
            text=text,
            plain=text,
            entities=entities,
            parse_mode=None,
            reply_markup=None,
            date=message["date"],
        )
        kind = "channel_post" if chat_type == "channel" else "message"
        return self._enqueue(kind, message, chat_id)

    async def reply_to(self, chat_id: int, text: str, **kwargs: Any) -> SentMessage:
        """A user writes ``text`` (as :meth:`send_text`); the bot's next message in the chat."""
        before = len(self.messages_to(chat_id))
        self.send_text(chat_id, text, **kwargs)
        return (await self.wait_for_messages(chat_id, before + 1))[before]

    async def replies_to(self, chat_id: int, text: str, **kwargs: Any) -> list[SentMessage]:
        """A user writes ``text``; every message the bot sends back until it falls silent."""
        before = len(self.messages_to(chat_id))
        self.send_text(chat_id, text, **kwargs)
        await self.wait_for_messages(chat_id, before + 1)
        count = 0
        while count != len(self.messages_to(chat_id)):  # a long digest takes several messages
            count = len(self.messages_to(chat_id))
            await asyncio.sleep(0.3)
        return self.messages_to(chat_id)[before:]

    async def answer_to_press(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        check_button: bool = True,
    ) -> CallbackAnswer:
        """A user presses a button (as :meth:`press_button`); the bot's answer to the press."""
        query_id = self.press_button(
            chat_id, message_id, data, user_id=user_id, check_button=check_button
        )
        await self.wait_until(
            lambda: any(a.callback_query_id == query_id for a in self.callback_answers)
        )
        [answer] = [a for a in self.callback_answers if a.callback_query_id == query_id]
        return answer

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        check_button: bool = True,
    ) -> str:
        """A user presses an inline button of the bot's message; returns the callback query id.

        With ``check_button`` the message must currently show a button with this data, as a real
        client can only press what it shows.
        """
        return str(
            self._press(chat_id, message_id, data, user_id=user_id, check_button=check_button)[
                "callback_query"
            ]["id"]
        )

    def inline_query(self, user_id: int, query: str, offset: str = "") -> str:
        """A user types ``@bot query``; returns the inline query id."""
        user = self._remember_user(user_id, "Тест", "ru")
        query_id = str(next(self._query_ids))
        payload = {
            "id": query_id,
            "from": user,
            "query": query,
            "offset": offset,
            "chat_type": "sender",
        }
        self._inline_queries[query_id] = payload
        self._enqueue("inline_query", payload, None)
        return query_id

    def choose_inline_result(
        self, user_id: int, result_id: str, query: str, *, inline_message_id: str | None = None
    ) -> JSONDict:
        """A user picks an inline result; ``inline_message_id`` makes its message editable."""
        user = self._remember_user(user_id, "Тест", "ru")
        payload: JSONDict = {"result_id": result_id, "from": user, "query": query}
        if inline_message_id is not None:
            payload["inline_message_id"] = inline_message_id
            content = self._find_answered_result(result_id)
            self._inline_messages[inline_message_id] = MessageState(
                chat_id=0,
                message_id=0,
                from_bot=True,
                sender=self._bot_user_brief(),
                text=content.get("message_text", ""),
                plain=content.get("plain", ""),
                entities=content.get("entities", []),
                parse_mode=content.get("parse_mode"),
                reply_markup=content.get("reply_markup"),
                date=int(time.time()),
            )
        return self._enqueue("chosen_inline_result", payload, None)

    def set_chat_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Make ``user_id`` a creator/administrator/member/left/kicked of the chat."""
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(_MEMBER_STATUSES)}")
        self._members[(chat_id, user_id)] = status

    def change_bot_membership(
        self,
        chat_id: int,
        status: str,
        *,
        chat_type: str = "private",
        user_id: int | None = None,
        can_post: bool = True,
        chat_title: str | None = None,
    ) -> JSONDict:
        """A user blocks/unblocks the bot, or removes it from or adds it to a chat.

        Enqueues the ``my_chat_member`` update Telegram sends, and makes sends to the chat fail
        with 403 while the bot is "kicked" or "left", as Telegram does.
        """
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(_MEMBER_STATUSES)}")
        if user_id is None:
            user_id = chat_id if chat_type == "private" else DEFAULT_GROUP_USER_ID
        user = self._users.get(user_id) or self._remember_user(user_id, "Тест", "ru")
        chat = self._remember_chat(chat_id, chat_type, user["first_name"], chat_title)
        first = "left" if chat_type != "private" else "member"
        old = self._members.get((chat_id, self.bot_id), first)
        self._members[(chat_id, self.bot_id)] = status
        if status in ("kicked", "left"):
            self._blocked.add(chat_id)
        else:
            self._blocked.discard(chat_id)
        new_member = self._member_json(chat_id, self.bot_id)
        if status == "administrator":
            new_member["can_post_messages"] = can_post
            new_member["can_edit_messages"] = can_post
        payload = {
            "chat": chat,
            "from": user,
            "date": int(time.time()),
            "old_chat_member": {"status": old, "user": self._bot_user_brief()}
            | ({"until_date": 0} if old == "kicked" else {}),
            "new_chat_member": new_member,
        }
        return self._enqueue("my_chat_member", payload, chat_id)

    def migrate_to_supergroup(
        self, group_id: int, supergroup_id: int, *, service_messages: bool = True
    ) -> None:
        """The group becomes a supergroup with a new id, as Telegram does when a group grows.

        From now on every call naming the old id gets 400 with ``migrate_to_chat_id``. With
        ``service_messages`` the bot also gets the two service messages Telegram sends: one in
        the old group (``migrate_to_chat_id``) and one in the supergroup
        (``migrate_from_chat_id``).
        """
        old_chat = self._chat(group_id)
        self._migrated[group_id] = supergroup_id
        new_chat = self._remember_chat(supergroup_id, "supergroup", "", old_chat.get("title"))
        for (chat_id, user_id), status in list(self._members.items()):
            if chat_id == group_id:
                self._members[(supergroup_id, user_id)] = status
        if not service_messages:
            return
        user = self._users.get(DEFAULT_GROUP_USER_ID) or self._remember_user(
            DEFAULT_GROUP_USER_ID, "Тест", "ru"
        )
        # In this order, as telegram-bot-api delivers them: the old group says where it went,
        # the bot "joins" the supergroup, and the supergroup says where it came from, written
        # by GroupAnonymousBot on behalf of the supergroup itself.
        self._enqueue(
            "message",
            {
                "message_id": self._new_message_id(group_id),
                "from": user,
                "date": int(time.time()),
                "chat": old_chat,
                "migrate_to_chat_id": supergroup_id,
            },
            group_id,
        )
        self._members[(supergroup_id, self.bot_id)] = "member"
        self._enqueue(
            "my_chat_member",
            {
                "chat": new_chat,
                "from": user,
                "date": int(time.time()),
                "old_chat_member": {"status": "left", "user": self._bot_user_brief()},
                "new_chat_member": {"status": "member", "user": self._bot_user_brief()},
            },
            supergroup_id,
        )
        self._enqueue(
            "message",
            {
                "message_id": self._new_message_id(supergroup_id),
                "from": _GROUP_ANONYMOUS_BOT,
                "sender_chat": new_chat,
                "date": int(time.time()),
                "chat": new_chat,
                "migrate_from_chat_id": group_id,
            },
            supergroup_id,
        )

    # --- what the bot did ---------------------------------------------------------------------

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """Accepted sendMessage calls to the chat, oldest first."""
        # Indexed by chat: benchmarks poll this on every API call.
        return list(self._sent_by_chat.get(chat_id, ()))

    def message(self, chat_id: int, message_id: int) -> MessageState:
        """The current state (after edits) of a message; KeyError if there is none."""
        try:
            return self._messages[(chat_id, message_id)]
        except KeyError:
            known = sorted(mid for (cid, mid) in self._messages if cid == chat_id)
            raise KeyError(
                f"no message {message_id} in chat {chat_id}; known ids: {known}"
            ) from None

    def inline_message(self, inline_message_id: str) -> MessageState:
        """The current state of an inline message created by ``choose_inline_result``."""
        return self._inline_messages[inline_message_id]

    def calls(self, method: str) -> list[ApiCall]:
        """Requests for one method (case-insensitive)."""
        return [c for c in self.requests if c.method.lower() == method.lower()]

    def method_counts(self) -> dict[str, int]:
        """How many times each method was called."""
        return dict(Counter(c.method for c in self.requests))

    def commands_for(self, scope: str = "default", language_code: str = "") -> list[JSONDict]:
        """Commands set for a scope key (see ``commands``) and language."""
        return self.commands.get((scope, language_code), [])

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by the bot."""
        return list(self._pending)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - the tests' API; a deadline, not a cancel scope
    ) -> list[SentMessage]:
        """All messages to the chat once there are at least ``count``; AssertionError otherwise."""
        try:
            await self.wait_until(
                lambda: len(self._sent_by_chat.get(chat_id, ())) >= count, timeout
            )
        except AssertionError:
            raise AssertionError(
                f"expected at least {count} message(s) to chat {chat_id} within {timeout}s, "
                f"got {len(self.messages_to(chat_id))}\n{self.dump(chat_id)}"
            ) from None
        return self.messages_to(chat_id)

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the tests' API; a deadline, not a cancel scope
    ) -> None:
        """Wait until ``predicate()`` holds; re-checked on every API call and enqueued update."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"condition not met within {timeout}s\n{self.dump()}")
            changed = self._changed
            # The cap re-checks predicates that depend on things outside the fake (a database).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.05))

    def dump(self, chat_id: int | None = None, last: int = 15) -> str:
        """A human-readable summary of recent traffic, for assertion messages."""
        lines: list[str] = []
        if chat_id is not None:
            lines.append(f"messages to chat {chat_id}:")
            for m in self.messages_to(chat_id):
                lines.append(f"  #{m.message_id}: {m.plain[:300]!r}")
        failed = [c for c in self.requests if c.response is not None and not c.ok]
        if failed:
            lines.append("failed API calls:")
            for c in failed[-last:]:
                lines.append(f"  {c.method}({_brief(c.params)}) -> {c.description}")
        lines.append(f"last API calls (of {len(self.requests)}):")
        for c in [c for c in self.requests if c.method.lower() != "getupdates"][-last:]:
            if c.response is None:
                outcome = "client went away" if c.status == 499 else "pending"
            else:
                outcome = "ok" if c.ok else str(c.description)
            lines.append(f"  {c.method}({_brief(c.params)}) -> {outcome}")
        lines.append(f"unconfirmed updates: {[u['update_id'] for u in self._pending]}")
        polls = self.calls("getUpdates")
        lines.append(f"getUpdates calls: {len(polls)}")
        return "\n".join(lines)

    # --- faults --------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        chat_id: int | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Fail the next ``times`` calls of ``method`` (to ``chat_id`` if given) with an error."""
        self._faults.append(
            _Fault(method.lower(), error_code, description, chat_id, retry_after, times)
        )

    def answer_late(
        self, method: str, *, seconds: float, chat_id: int | None = None, times: int = 1
    ) -> None:
        """Carry out the next ``times`` calls of ``method`` at once but answer ``seconds`` late.

        As Telegram under load: the message is in the chat while the bot's request times out.
        """
        key = method.lower()
        handler = self._methods[key]
        remaining = times

        async def late(params: JSONDict) -> Any:
            nonlocal remaining
            result = await handler(params)
            if remaining > 0 and chat_id in (None, params.get("chat_id")):
                remaining -= 1
                self._notify()
                await asyncio.sleep(seconds)
            return result

        self._methods[key] = late

    def block_chat(self, chat_id: int) -> None:
        """The user blocks the bot (or the bot is kicked): sends get 403."""
        self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int) -> None:
        """Undo ``block_chat``."""
        self._blocked.discard(chat_id)

    def forget_chat(self, chat_id: int) -> None:
        """Make the chat unknown: calls about it get 400 "chat not found"."""
        self._forgotten.add(chat_id)

    # --- internals: updates ---------------------------------------------------------------------

    def _notify(self) -> None:
        # Swap before setting so waiters that re-check and wait again get the new event.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _enqueue(self, kind: str, payload: JSONDict, chat_id: int | None) -> JSONDict:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        self.update_times[update_id] = time.monotonic()
        if chat_id is not None:
            self._last_update_by_chat[chat_id] = update_id
        # Telegram filters by allowed_updates when an update is created, not when delivered.
        if self._allowed_updates:
            allowed = kind in self._allowed_updates
        else:
            allowed = kind not in _DEFAULT_EXCLUDED_UPDATES
        if allowed:
            self._pending.append(update)
        else:
            self.filtered_updates.append(update)
        self._notify()
        return update

    def _press(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None,
        check_button: bool,
    ) -> JSONDict:
        state = self.message(chat_id, message_id)
        if not state.from_bot:
            raise ValueError(f"message {message_id} in chat {chat_id} is not the bot's")
        if check_button:
            shown = [
                button.get("callback_data")
                for row in (state.reply_markup or {}).get("inline_keyboard", [])
                for button in row
            ]
            if data not in shown:
                raise ValueError(
                    f"message {message_id} in chat {chat_id} shows no button with data {data!r}; "
                    f"it shows {shown}"
                )
        chat = self._chat(chat_id)
        if user_id is None:
            user_id = chat_id if chat["type"] == "private" else DEFAULT_GROUP_USER_ID
        user = self._users.get(user_id) or self._remember_user(user_id, "Тест", "ru")
        query_id = str(next(self._query_ids))
        payload = {
            "id": query_id,
            "from": user,
            "message": self._message_json(state),
            "chat_instance": str(abs(hash((self.bot_id, chat_id))) % (1 << 62)),
            "data": data,
        }
        self._callback_queries[query_id] = payload
        return self._enqueue("callback_query", payload, chat_id)

    def _find_answered_result(self, result_id: str) -> JSONDict:
        for results in reversed(self._answered_results.values()):
            for result in results:
                if result.get("id") == result_id:
                    return dict(result.get("_content", {}))
        return {}

    # --- internals: world state ---------------------------------------------------------------

    def _bot_user_brief(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Digest Test Bot",
            "username": self.bot_username,
        }

    def _remember_user(self, user_id: int, first_name: str, language_code: str) -> JSONDict:
        user = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        self._users[user_id] = user
        return user

    def _remember_chat(
        self, chat_id: int, chat_type: str, first_name: str, title: str | None
    ) -> JSONDict:
        chat: JSONDict = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = title or f"Test {chat_type} {chat_id}"
        self._chats[chat_id] = chat
        return chat

    def _chat(self, chat_id: int) -> JSONDict:
        """The chat object; any chat id is valid unless forgotten."""
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat = {"id": chat_id, "type": kind, "title": f"Test {kind} {chat_id}"}
            self._chats[chat_id] = chat
        return chat

    def _resolve_chat(self, params: JSONDict, *, required: bool = True) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            if required:
                raise bad_request("Chat_id is empty")
            return 0
        if isinstance(raw, str):
            name = raw.lstrip("@").lower()
            for chat_id, chat in self._chats.items():
                if str(chat.get("username", "")).lower() == name and chat_id not in self._forgotten:
                    return chat_id
            raise bad_request("Chat not found")
        if not isinstance(raw, int) or isinstance(raw, bool) or raw == 0:
            raise bad_request("Chat not found")
        if raw in self._forgotten:
            raise bad_request("Chat not found")
        if raw in self._migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self._migrated[raw]},
            )
        self._chat(raw)
        return raw

    def _check_not_blocked(self, chat_id: int) -> None:
        if chat_id not in self._blocked:
            return
        kind = self._chat(chat_id)["type"]
        if kind == "private":
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if kind == "channel":
            raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
        raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _message_json(self, state: MessageState, *, with_reply: bool = True) -> JSONDict:
        chat = self._chat(state.chat_id)
        message: JSONDict = {"message_id": state.message_id}
        if chat["type"] == "channel":
            message["sender_chat"] = chat
        else:
            message["from"] = state.sender
        message["chat"] = chat
        message["date"] = state.date
        if state.edit_date is not None:
            message["edit_date"] = state.edit_date
        if state.message_thread_id is not None:
            message["message_thread_id"] = state.message_thread_id
        if with_reply and state.reply_to_message_id is not None:
            replied = self._messages.get((state.chat_id, state.reply_to_message_id))
            if replied is not None:
                message["reply_to_message"] = self._message_json(replied, with_reply=False)
        message["text"] = state.plain
        if state.entities:
            message["entities"] = state.entities
        if state.reply_markup:
            message["reply_markup"] = state.reply_markup
        return message

    def set_star_balance(self, stars: float | str) -> None:
        """Set the bot's Star balance, e.g. ``12`` or ``"0.3"``."""
        self.star_balance_nanostars = round(float(stars) * NANOSTARS_PER_STAR)

    def _free(self) -> _TokenBucket:
        """The free allowance of paid messages: the broadcasting limit, 30 a second."""
        if self._free_window is None:
            rate = self.rate_limit.global_per_second if self.rate_limit else 0
            rate = rate or FREE_BROADCAST_PER_SECOND
            self._free_window = _TokenBucket(rate, rate)
        return self._free_window

    def _billed(self, paid: bool, now: float) -> bool:
        """Whether a message is billed: sent paid, above the free 30 a second, and affordable.

        A paid message the balance cannot pay for is treated as an ordinary one (Telegram's
        exact answer is not documented; this one keeps to its broadcasting limit).
        """
        if not paid or self._free().ready(now):
            return False
        return self.star_balance_nanostars >= PAID_MESSAGE_NANOSTARS

    def _rate_limited(self, chat_id: int, *, paid: bool) -> None:
        limit = self.rate_limit
        if limit is None:
            return
        now = time.monotonic()
        if self._global_bucket is None:
            self._global_bucket = _TokenBucket(limit.global_per_second, limit.global_per_second)
        if self._paid_bucket is None:
            self._paid_bucket = _TokenBucket(limit.paid_per_second, limit.paid_per_second)
        chat_bucket = self._chat_buckets.get(chat_id)
        if chat_bucket is None:
            chat_bucket = _TokenBucket(limit.per_chat_per_second, limit.per_chat_burst)
            self._chat_buckets[chat_id] = chat_bucket
        # Paid messages skip the broadcasting limit while the balance could pay for them.
        skips = paid and self.star_balance_nanostars >= PAID_MESSAGE_NANOSTARS
        bucket = self._paid_bucket if skips else self._global_bucket
        global_ok = bucket.ready(now)
        chat_ok = chat_bucket.ready(now)
        if not (global_ok and chat_ok):
            raise ApiError(
                429,
                f"Too Many Requests: retry after {limit.retry_after}",
                {"retry_after": limit.retry_after},
            )
        bucket.take()
        chat_bucket.take()

    def _check_faults(self, method: str, params: JSONDict) -> None:
        chat_id = params.get("chat_id")
        for fault in self._faults:
            if fault.method != method.lower():
                continue
            if fault.chat_id is not None and fault.chat_id != chat_id:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            retry_after = fault.retry_after
            if retry_after is None and fault.error_code == 429:
                # Like telegram-bot-api, take it from "Too Many Requests: retry after N".
                found = re.search(r"retry after (\d+)", fault.description)
                retry_after = int(found.group(1)) if found else None
            parameters = {"retry_after": retry_after} if retry_after else None
            raise ApiError(fault.error_code, fault.description, parameters)

    def _reply_context(self, chat_id: int | None) -> tuple[int | None, float | None]:
        if chat_id is None:
            return None, None
        update_id = self._last_update_by_chat.get(chat_id)
        if update_id is None:
            return None, None
        return update_id, self.update_times.get(update_id)

    # --- HTTP ------------------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> JSONDict:
        params: JSONDict = dict(request.query)
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise bad_request("Can't parse JSON object") from exc
            if body is not None and not isinstance(body, dict):
                raise bad_request("Can't parse JSON object")
            params.update(body or {})
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = f"<file {value.filename}>"
                else:
                    params[key] = str(value)
        elif request.can_read_body:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError as exc:
                    raise bad_request("Can't parse JSON object") from exc
                if isinstance(body, dict):
                    params.update(body)
        return {key: _coerce(key, value) for key, value in params.items()}

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        call = ApiCall(method=method, params={}, time=time.monotonic())
        self.requests.append(call)
        try:
            call.params = await self._read_params(request)
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            self._check_faults(method, call.params)
            result = await handler(call.params)
            body: JSONDict = {"ok": True, "result": result}
            status = 200
        except ApiError as exc:
            body, status = exc.to_json(), exc.error_code
            if status == 429:
                self.too_many_requests += 1
        except asyncio.CancelledError:
            # The client went away mid-request (a long poll PTB cancelled): nginx's 499.
            call.status = 499
            self._notify()
            raise
        call.response, call.status = body, status
        log.info("%s(%s) -> %s", method, _brief(call.params), "ok" if status == 200 else body)
        self._notify()
        return web.json_response(body, status=status, dumps=_dumps)

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        body = {"ok": False, "error_code": 404, "description": "Not Found"}
        return web.json_response(body, status=404, dumps=_dumps)

    # --- Bot API methods -------------------------------------------------------------------------

    async def _return_true(self, params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return dict(self.bot_user)

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = _int_param(params, "offset", 0) or 0
        limit = min(max(_int_param(params, "limit", 100) or 100, 1), 100)
        timeout = max(_int_param(params, "timeout", 0) or 0, 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]
        # A newer getUpdates ends an older one with 409, as Telegram does.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            remaining = deadline - loop.time()
            if self._pending or self._closing or remaining <= 0:
                break
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
        batch = self._pending[:limit]
        now = time.monotonic()
        for update in batch:
            self.delivered_times.setdefault(update["update_id"], now)
            self.deliveries[update["update_id"]] += 1
        return batch

    async def _delete_webhook(self, params: JSONDict) -> bool:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _set_webhook(self, params: JSONDict) -> bool:
        url = _str_param(params, "url") or ""
        if not url:
            return await self._delete_webhook(params)
        if urlsplit(url).scheme.lower() != "https":
            raise bad_request("Bad webhook: An HTTPS URL must be provided for webhook")
        secret = _str_param(params, "secret_token")
        if secret is not None and len(secret) > 256:
            raise bad_request("Secret token is too long")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]*", secret):
            raise bad_request("Secret token contains unallowed characters")
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": _int_param(params, "max_connections", 40),
        }
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if self._pusher is None:
            self._pusher = asyncio.create_task(self._push_updates())
        self._notify()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook:
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook["allowed_updates"]:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _commands_key(self, params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope")
        if isinstance(scope, str):
            raise bad_request("Can't parse BotCommandScope JSON object")
        return _scope_key(scope), _str_param(params, "language_code") or ""

    async def _set_my_commands(self, params: JSONDict) -> bool:
        key = self._commands_key(params)
        commands = params.get("commands")
        if isinstance(commands, str):
            raise bad_request("Can't parse commands JSON object")
        if not isinstance(commands, list):
            commands = []
        if len(commands) > 100:
            raise bad_request("Too many bot commands specified")
        checked: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("Expected an Object as BotCommand")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str):
                raise bad_request('Field "command" must be of type String')
            if not isinstance(description, str):
                raise bad_request('Field "description" must be of type String')
            name = name.removeprefix("/")
            if not _COMMAND.fullmatch(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not description.strip() or len(description) > 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            checked.append({"command": name, "description": description})
        if checked:
            self.commands[key] = checked
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return list(self.commands.get(self._commands_key(params), []))

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _send_message(self, params: JSONDict) -> JSONDict:
        # telegram-bot-api parses the text before it looks the chat up.
        parsed = format_text(
            params.get("text"), params.get("parse_mode"), params.get("entities"), strict=self.strict
        )
        markup = check_reply_markup(params.get("reply_markup"), strict=self.strict)
        chat_id = self._resolve_chat(params)
        link_preview = params.get("link_preview_options")
        if isinstance(link_preview, str) and link_preview:
            raise bad_request("Can't parse link preview options JSON object")
        reply_to = self._reply_target(chat_id, params)
        paid = bool(params.get("allow_paid_broadcast"))
        now = time.monotonic()
        billed = self._billed(paid, now)
        self._rate_limited(chat_id, paid=paid)
        self._check_not_blocked(chat_id)
        if paid:
            self.paid_messages += 1
            if billed:
                self.billed_messages += 1
                self.star_balance_nanostars -= PAID_MESSAGE_NANOSTARS
            elif self._free().ready(now):
                self._free().take()

        message_id = self._new_message_id(chat_id)
        parse_mode = _str_param(params, "parse_mode")
        thread_id = _int_param(params, "message_thread_id")
        state = MessageState(
            chat_id=chat_id,
            message_id=message_id,
            from_bot=True,
            sender=self._bot_user_brief(),
            text=str(params.get("text")),
            plain=parsed.text,
            entities=parsed.entities,
            parse_mode=parse_mode,
            reply_markup=markup,
            date=int(time.time()),
            reply_to_message_id=reply_to,
            message_thread_id=thread_id,
        )
        self._messages[(chat_id, message_id)] = state
        update_id, update_time = self._reply_context(chat_id)
        raw_markup = params.get("reply_markup")
        sent = SentMessage(
            chat_id=chat_id,
            message_id=message_id,
            text=state.text,
            plain=parsed.text,
            parse_mode=parse_mode,
            reply_markup=raw_markup if isinstance(raw_markup, dict) else None,
            entities=parsed.entities,
            disable_web_page_preview=params.get("disable_web_page_preview"),
            link_preview_options=link_preview if isinstance(link_preview, dict) else None,
            time=time.monotonic(),
            reply_to_update_id=update_id,
            reply_to_update_time=update_time,
            params=params,
        )
        self.sent.append(sent)
        self._sent_by_chat.setdefault(chat_id, []).append(sent)
        return self._message_json(state)

    def _reply_target(self, chat_id: int, params: JSONDict) -> int | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, str) and reply:
            raise bad_request("Can't parse reply parameters JSON object")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        target: int | None = None
        if isinstance(reply, dict):
            target = reply.get("message_id") if isinstance(reply.get("message_id"), int) else None
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
            if isinstance(reply.get("chat_id"), int) and reply["chat_id"] != chat_id:
                chat_id = reply["chat_id"]
        else:
            target = _int_param(params, "reply_to_message_id")
        if target is None:
            return None
        if (chat_id, target) not in self._messages:
            if allow_missing:
                return None
            raise bad_request("Message to be replied not found")
        return target

    def _editable(self, params: JSONDict) -> tuple[MessageState, int | None, str | None]:
        inline_id = _str_param(params, "inline_message_id")
        if inline_id:
            state = self._inline_messages.get(inline_id)
            if state is None:
                raise bad_request("MESSAGE_ID_INVALID")
            return state, None, inline_id
        chat_id = self._resolve_chat(params)
        message_id = _int_param(params, "message_id")
        if message_id is None:
            raise bad_request("Message identifier is not specified")
        state = self._messages.get((chat_id, message_id))
        if state is None:
            raise bad_request("Message to edit not found")
        if not state.from_bot:
            raise bad_request("Message can't be edited")
        self._check_not_blocked(chat_id)
        return state, chat_id, None

    async def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        state, chat_id, inline_id = self._editable(params)
        parsed = format_text(
            params.get("text"), params.get("parse_mode"), params.get("entities"), strict=self.strict
        )
        # Omitting reply_markup in an edit removes the keyboard, as in Telegram.
        markup = check_reply_markup(params.get("reply_markup"), strict=self.strict)
        if (
            parsed.text == state.plain
            and parsed.entities == state.entities
            and markup == state.reply_markup
        ):
            raise ApiError(400, NOT_MODIFIED)
        state.text = str(params.get("text"))
        state.plain = parsed.text
        state.entities = parsed.entities
        state.parse_mode = _str_param(params, "parse_mode")
        state.reply_markup = markup
        return self._record_edit("editMessageText", state, chat_id, inline_id, params)

    async def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        state, chat_id, inline_id = self._editable(params)
        markup = check_reply_markup(params.get("reply_markup"), strict=self.strict)
        if markup == state.reply_markup:
            raise ApiError(400, NOT_MODIFIED)
        state.reply_markup = markup
        return self._record_edit("editMessageReplyMarkup", state, chat_id, inline_id, params)

    def _record_edit(
        self,
        method: str,
        state: MessageState,
        chat_id: int | None,
        inline_id: str | None,
        params: JSONDict,
    ) -> JSONDict | bool:
        state.edit_date = int(time.time())
        state.edits += 1
        update_id, _ = self._reply_context(chat_id)
        is_text = method == "editMessageText"
        self.edits.append(
            EditRecord(
                method=method,
                chat_id=chat_id,
                message_id=None if inline_id else state.message_id,
                inline_message_id=inline_id,
                text=state.text if is_text else None,
                plain=state.plain if is_text else None,
                parse_mode=state.parse_mode if is_text else None,
                reply_markup=state.reply_markup,
                time=time.monotonic(),
                reply_to_update_id=update_id,
            )
        )
        if inline_id:
            return True
        return self._message_json(state)

    async def _delete_message(self, params: JSONDict) -> bool:
        chat_id = self._resolve_chat(params)
        message_id = _int_param(params, "message_id")
        if message_id is None or (chat_id, message_id) not in self._messages:
            raise bad_request("Message to delete not found")
        del self._messages[(chat_id, message_id)]
        return True

    async def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = _str_param(params, "callback_query_id") or ""
        if self._callback_queries.pop(query_id, None) is None:
            raise ApiError(400, QUERY_INVALID)
        self.callback_answers.append(
            CallbackAnswer(
                callback_query_id=query_id,
                text=_str_param(params, "text"),
                show_alert=bool(params.get("show_alert")),
                url=_str_param(params, "url"),
                cache_time=_int_param(params, "cache_time"),
                time=time.monotonic(),
            )
        )
        return True

    async def _answer_inline_query(self, params: JSONDict) -> bool:
        query_id = _str_param(params, "inline_query_id") or ""
        results = params.get("results")
        if isinstance(results, str) and results:
            raise bad_request("Can't parse JSON encoded inline query results: invalid JSON")
        if results is None or results == "":
            results = []
        if not isinstance(results, list):
            raise bad_request("Expected an Array of inline query results")
        if len(results) > MAX_INLINE_RESULTS:
            raise bad_request("Too many inline query results specified")
        button = params.get("button")
        if isinstance(button, str) and button:
            raise bad_request("Can't parse inline query results button JSON object")
        checked = [self._check_inline_result(result) for result in results]
        ids = [result["id"] for result in checked]
        if len(set(ids)) != len(ids):
            raise bad_request("RESULT_ID_DUPLICATE")
        # The server checks the query id after the bot API has parsed the results.
        if self._inline_queries.pop(query_id, None) is None:
            raise ApiError(400, QUERY_INVALID)
        self._answered_results[query_id] = checked
        self.inline_answers.append(
            InlineAnswer(
                inline_query_id=query_id,
                results=[{k: v for k, v in r.items() if k != "_content"} for r in checked],
                cache_time=_int_param(params, "cache_time"),
                is_personal=bool(params.get("is_personal")),
                next_offset=_str_param(params, "next_offset"),
                button=button if isinstance(button, dict) else None,
                time=time.monotonic(),
            )
        )
        return True

    def _check_inline_result(self, result: Any) -> JSONDict:
        def fail(message: str) -> ApiError:
            return bad_request(f"Can't parse inline query result: {message}")

        if not isinstance(result, dict):
            raise fail("Inline query result must be an object")
        if not isinstance(result.get("type"), str):
            raise fail('Can\'t find field "type"')
        if not isinstance(result.get("id"), str):
            raise fail('Can\'t find field "id"')
        result_id: str = result["id"]
        if not result_id or len(result_id.encode("utf-8")) > MAX_INLINE_RESULT_ID_BYTES:
            raise bad_request("RESULT_ID_INVALID")
        kind = result["type"].lower()
        content = result.get("input_message_content")
        if content is None and kind == "article":
            if "message_text" not in result:
                raise fail('Can\'t find field "input_message_content"')
            content = {
                k: result[k] for k in ("message_text", "parse_mode", "entities") if k in result
            }
        stored: JSONDict = {}
        if isinstance(content, dict) and "message_text" in content:
            try:
                parsed = format_text(
                    content.get("message_text"),
                    content.get("parse_mode"),
                    content.get("entities"),
                    strict=self.strict,
                    max_length=None,
                )
            except ApiError as exc:
                inner = exc.description.removeprefix("Bad Request: ")
                raise fail(inner[:1].upper() + inner[1:]) from exc
            if _utf16_len(parsed.text) > MAX_MESSAGE_LENGTH:
                raise bad_request("MESSAGE_TOO_LONG")
            stored = {
                "message_text": content["message_text"],
                "plain": parsed.text,
                "entities": parsed.entities,
                "parse_mode": content.get("parse_mode"),
            }
        elif kind == "article":
            raise fail('Can\'t find field "message_text"')
        if "reply_markup" in result:
            try:
                stored["reply_markup"] = check_reply_markup(
                    result["reply_markup"], strict=self.strict
                )
            except ApiError as exc:
                inner = exc.description.removeprefix("Bad Request: ")
                raise fail(inner[:1].upper() + inner[1:]) from exc
        return {**result, "_content": stored}

    def _member_json(self, chat_id: int, user_id: int) -> JSONDict:
        user = self._users.get(user_id) or {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User {user_id}",
        }
        status = self._members.get((chat_id, user_id), "member")
        member: JSONDict = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
                can_pin_messages=True,
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    async def _get_chat_member(self, params: JSONDict) -> JSONDict:
        chat_id = self._resolve_chat(params)
        user_id = _int_param(params, "user_id")
        if user_id is None:
            raise bad_request("User_id is empty")
        if user_id <= 0:
            raise bad_request("Invalid user_id specified")
        return self._member_json(chat_id, user_id)

    async def _get_chat_administrators(self, params: JSONDict) -> list[JSONDict]:
        chat_id = self._resolve_chat(params)
        if self._chat(chat_id)["type"] == "private":
            raise bad_request("There are no administrators in the private chat")
        admins = [
            self._member_json(chat_id, user_id)
            for (cid, user_id), status in self._members.items()
            if cid == chat_id and status in ("creator", "administrator")
        ]
        admins.sort(key=lambda m: m["status"] != "creator")
        return admins

    async def _get_chat(self, params: JSONDict) -> JSONDict:
        chat_id = self._resolve_chat(params)
        return {
            **self._chat(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    async def _get_my_star_balance(self, params: JSONDict) -> JSONDict:
        whole, nanos = divmod(abs(self.star_balance_nanostars), NANOSTARS_PER_STAR)
        sign = -1 if self.star_balance_nanostars < 0 else 1
        amount: JSONDict = {"amount": sign * whole}
        if nanos:
            amount["nanostar_amount"] = sign * nanos
        return amount

    async def _send_chat_action(self, params: JSONDict) -> bool:
        chat_id = self._resolve_chat(params)
        action = _str_param(params, "action")
        if action not in _CHAT_ACTIONS:
            raise bad_request("Wrong parameter action in request")
        self._check_not_blocked(chat_id)
        self.chat_actions.append((chat_id, action, time.monotonic()))
        return True

    # --- control endpoints (standalone mode) ---------------------------------------------------

    async def _control_json(self, request: web.Request) -> JSONDict:
        try:
            body = await request.json()
        except ValueError as exc:
            raise web.HTTPBadRequest(text="body must be a JSON object") from exc
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="body must be a JSON object")
        return body

    async def _control_send(self, request: web.Request) -> web.Response:
        body = await self._control_json(request)
        try:
            update = self.send_text(
                int(body["chat_id"]),
                str(body["text"]),
                user_id=int(body["user_id"]) if body.get("user_id") is not None else None,
                chat_type=str(body.get("chat_type", "private")),
            )
        except (KeyError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"need chat_id and text: {exc}") from exc
        return web.json_response(update, dumps=_dumps)

    async def _control_press(self, request: web.Request) -> web.Response:
        body = await self._control_json(request)
        try:
            update = self._press(
                int(body["chat_id"]),
                int(body["message_id"]),
                str(body["data"]),
                user_id=int(body["user_id"]) if body.get("user_id") is not None else None,
                check_button=bool(body.get("check_button", True)),
            )
        except (KeyError, ValueError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        return web.json_response(update, dumps=_dumps)

    async def _control_member(self, request: web.Request) -> web.Response:
        body = await self._control_json(request)
        try:
            self.set_chat_member_status(
                int(body["chat_id"]), int(body["user_id"]), str(body["status"])
            )
        except (KeyError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"need chat_id, user_id and status: {exc}") from exc
        return web.json_response({"ok": True})

    async def _control_membership(self, request: web.Request) -> web.Response:
        body = await self._control_json(request)
        try:
            update = self.change_bot_membership(
                int(body["chat_id"]),
                str(body["status"]),
                chat_type=str(body.get("chat_type", "private")),
                user_id=int(body["user_id"]) if body.get("user_id") is not None else None,
                can_post=bool(body.get("can_post", True)),
            )
        except (KeyError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"need chat_id and status: {exc}") from exc
        return web.json_response(update, dumps=_dumps)

    async def _control_migrate(self, request: web.Request) -> web.Response:
        body = await self._control_json(request)
        try:
            self.migrate_to_supergroup(
                int(body["group_id"]),
                int(body["supergroup_id"]),
                service_messages=bool(body.get("service_messages", True)),
            )
        except (KeyError, ValueError) as exc:
            raise web.HTTPBadRequest(text=f"need group_id and supergroup_id: {exc}") from exc
        return web.json_response({"ok": True})

    async def _control_sent(self, request: web.Request) -> web.Response:
        wanted = request.query.get("chat_id")
        states = [
            state
            for (chat_id, _), state in sorted(self._messages.items())
            if state.from_bot and (wanted is None or str(chat_id) == wanted)
        ]
        body = [
            {
                "chat_id": s.chat_id,
                "message_id": s.message_id,
                "text": s.text,
                "plain": s.plain,
                "parse_mode": s.parse_mode,
                "reply_markup": s.reply_markup,
                "edits": s.edits,
            }
            for s in states
        ]
        return web.json_response(body, dumps=_dumps)

    async def _control_calls(self, request: web.Request) -> web.Response:
        return web.json_response(self.method_counts(), dumps=_dumps)


def _brief(params: JSONDict) -> str:
    parts = []
    for key, value in params.items():
        if key == "secret_token":
            parts.append(f"{key}=***")  # Telegram does not log it either
            continue
        text = repr(value) if isinstance(value, str) else _dumps(value)
        parts.append(f"{key}={text[:80]}…" if len(text) > 80 else f"{key}={text}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# Standalone mode
# --------------------------------------------------------------------------------------------


async def _serve(args: argparse.Namespace) -> None:
    rate_limit = RateLimit() if args.rate_limit else None
    fake = FakeTelegram(
        args.token,
        bot_username=args.bot_username,
        bot_id=args.bot_id,
        rate_limit=rate_limit,
        strict=not args.lenient,
        control_endpoints=True,
    )
    fake.webhook_upstream = args.webhook_upstream
    await fake.start(args.port, host=args.host)
    print(f"fake Telegram listening on {fake.url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the fake forever with control endpoints, for chatting with a real bot by hand."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_telegram",
        description=(
            "Fake Telegram Bot API. Point the bot at it with TELEGRAM_API_URL=http://HOST:PORT, "
            'then: curl -XPOST URL/_control/send -d \'{"chat_id": 1, "text": "/start"}\'; '
            "curl URL/_control/sent?chat_id=1; "
            'curl -XPOST URL/_control/press -d \'{"chat_id":1,"message_id":2,"data":"x"}\'; '
            "curl URL/_control/calls"
        ),
    )
    parser.add_argument("--token", required=True, help="the bot token the fake accepts")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--bot-username", default="digest_test_bot")
    parser.add_argument("--bot-id", type=int, default=7000001)
    parser.add_argument("--rate-limit", action="store_true", help="enforce default flood limits")
    parser.add_argument("--lenient", action="store_true", help="skip the fake's strict checks")
    parser.add_argument(
        "--webhook-upstream",
        help="push updates for the bot's webhook here, e.g. http://127.0.0.1:8443",
    )
    parser.add_argument("--verbose", action="store_true", help="log every API call to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(message)s",
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
