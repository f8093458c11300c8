"""/search, its paging buttons, and inline mode (``@bot query`` from any chat)."""

from __future__ import annotations

from typing import Final

from telegram import (
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ChatType

from bot import keyboards, texts
from bot.context import AppContext
from bot.handlers.common import chat_unit, command_args, edit_in_place, refuse_non_admin
from content.render import PaperView, card_summary, render_card, render_search_page
from content.search import parse_query
from storage import search
from storage.search import SearchHit, SearchPage

PAGE_SIZE: Final[int] = 5
"""Results per /search message."""

INLINE_PAGE_SIZE: Final[int] = 20
"""Results per inline answer; Telegram allows 50."""

# Inline results are the same for everyone and change only when papers are ingested.
INLINE_CACHE_SECONDS: Final[int] = 120
# An offset past this is no offset we handed out.
_MAX_INLINE_OFFSET: Final[int] = 1000
_INLINE_TITLE_CHARS: Final[int] = 120

_NO_PREVIEW: Final = LinkPreviewOptions(is_disabled=True)


def view(hit: SearchHit) -> PaperView:
    """How a found paper reads: the Russian title and summary, else the English originals."""
    return PaperView(
        id=hit.id,
        title=hit.title_ru or hit.title,
        summary=hit.summary_ru or hit.abstract,
        url=hit.url,
        code_url=hit.code_url,
        project_url=hit.project_url,
        upvotes=hit.upvotes,
        tags=hit.tags,
    )


def _page_message(
    query: str, query_id: str, page_number: int, page: SearchPage
) -> tuple[str, InlineKeyboardMarkup | None]:
    first = page_number * PAGE_SIZE + 1
    header = texts.search_header(
        query, first=first, last=first + len(page.hits) - 1, relaxed=page.relaxed
    )
    text = render_search_page([view(hit) for hit in page.hits], header=header, first_number=first)
    return text, keyboards.search_keyboard(query_id, page_number, has_more=page.has_more)


async def search_command(update: Update, ctx: AppContext) -> None:
    """Answer ``/search query`` with the best five papers and paging buttons."""
    message = update.effective_message
    if message is None:
        return
    query = parse_query(command_args(ctx))
    if not query.text:
        await message.reply_html(texts.search_usage(ctx.bot.username))
        return
    # The query is embedded while full-text search runs. chat_unit: like every command,
    # /search records first contact with the chat.
    semantic = await ctx.services.vectors.semantic_soon(query)
    async with chat_unit(update, ctx) as (session, _, _):
        page = await search.search(session=session, query=query, limit=PAGE_SIZE, semantic=semantic)
        query_id = None
        if page.has_more:
            # Only a query with a second page needs to be found again by its buttons.
            query_id = await search.remember_query(
                session=session, text_=query.text, now=ctx.services.now()
            )
    if not page.hits:
        await message.reply_html(texts.search_nothing(query.text))
        return
    text, markup = _page_message(query.text, query_id or "", 0, page)
    await message.reply_html(text, reply_markup=markup, link_preview_options=_NO_PREVIEW)


async def page_button(update: Update, ctx: AppContext) -> None:
    """Turn a page of results: edit the message to show the page the button names."""
    callback = update.callback_query
    if callback is None:
        return
    chat = update.effective_chat
    # A channel's search message is a post every reader sees: only its admins turn its pages.
    if (
        chat is not None
        and chat.type == ChatType.CHANNEL
        and await refuse_non_admin(update, ctx, alert=texts.SEARCH_ADMINS_ONLY_SHORT)
    ):
        return
    pressed = keyboards.decode_search(callback.data)
    text_: str | None = None
    page: SearchPage | None = None
    if pressed is not None:
        async with ctx.session() as session:
            text_ = await search.recall_query(session=session, query_id_=pressed.query_id)
        if text_ is not None:
            query = parse_query(text_)
            semantic = await ctx.services.vectors.semantic_soon(query)
            async with ctx.session() as session:
                page = await search.search(
                    session=session,
                    query=query,
                    offset=pressed.page * PAGE_SIZE,
                    limit=PAGE_SIZE,
                    semantic=semantic,
                )
    if pressed is None or text_ is None or page is None:
        await callback.answer(texts.SEARCH_EXPIRED, show_alert=True)
        return
    if not page.hits:
        await callback.answer(texts.SEARCH_PAGE_EMPTY)
        return
    await callback.answer()
    text, markup = _page_message(text_, pressed.query_id, pressed.page, page)
    await edit_in_place(callback.message, text, markup)


def _inline_offset(raw: str) -> int:
    """The offset Telegram echoes from our ``next_offset``; anything else starts over."""
    if raw.isascii() and raw.isdigit() and int(raw) <= _MAX_INLINE_OFFSET:
        return int(raw)
    return 0


def _inline_result(hit: SearchHit) -> InlineQueryResultArticle:
    paper = view(hit)
    title = (
        paper.title
        if len(paper.title) <= _INLINE_TITLE_CHARS
        else (paper.title[: _INLINE_TITLE_CHARS - 1] + "…")
    )
    return InlineQueryResultArticle(
        id=hit.id,
        title=title,
        description=card_summary(paper) or None,
        input_message_content=InputTextMessageContent(
            render_card(paper), parse_mode="HTML", link_preview_options=_NO_PREVIEW
        ),
    )


async def inline_query(update: Update, ctx: AppContext) -> None:
    """Answer ``@bot query`` with up to 20 papers; choosing one sends its card to the chat."""
    inline = update.inline_query
    if inline is None:
        return
    offset = _inline_offset(inline.offset)
    query = parse_query(inline.query)
    semantic = await ctx.services.vectors.semantic_soon(query)
    async with ctx.session() as session:
        if query.is_empty:
            page = await search.latest(session=session, offset=offset, limit=INLINE_PAGE_SIZE)
        else:
            page = await search.search(
                session=session,
                query=query,
                offset=offset,
                limit=INLINE_PAGE_SIZE,
                semantic=semantic,
            )
    next_offset = ""
    if page.has_more and offset + INLINE_PAGE_SIZE <= _MAX_INLINE_OFFSET:
        next_offset = str(offset + INLINE_PAGE_SIZE)
    await inline.answer(
        [_inline_result(hit) for hit in page.hits],
        cache_time=INLINE_CACHE_SECONDS,
        is_personal=False,
        next_offset=next_offset,
    )
