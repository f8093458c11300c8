"""The numbered buttons under digest messages: a paper's 👍, 👎 and «Похожие».

A digest message carries one number button per paper; a number opens that paper's actions in
the same keyboard. Everything a press needs is in the message's own keyboard (the number
buttons hold the paper ids), so the buttons work across restarts and replicas.
"""

from __future__ import annotations

import logging
from typing import Final

from telegram import InlineKeyboardMarkup, LinkPreviewOptions, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest

from bot import keyboards, texts
from bot.context import AppContext
from bot.handlers.common import chat_unit, is_not_modified, refuse_non_admin
from bot.handlers.search import view
from bot.keyboards import DigestItem, Feedback
from content.render import render_search_page
from storage import feedback, search

log = logging.getLogger(__name__)

SIMILAR_COUNT: Final[int] = 5
"""Papers «Похожие» shows."""

_NO_PREVIEW: Final = LinkPreviewOptions(is_disabled=True)
_TOASTS: Final = {1: texts.VOTE_LIKED, -1: texts.VOTE_DISLIKED, 0: texts.VOTE_WITHDRAWN}


async def digest_button(update: Update, ctx: AppContext) -> None:
    """Answer a press on a digest message's keyboard."""
    callback = update.callback_query
    chat = update.effective_chat
    if callback is None or chat is None:
        return
    # Outside private chats the keyboard is everyone's, and votes steer the chat's digest.
    if chat.type != ChatType.PRIVATE and await refuse_non_admin(
        update, ctx, alert=texts.FEEDBACK_ADMINS_ONLY_SHORT
    ):
        return
    pressed = keyboards.decode_feedback(callback.data)
    message = callback.message if isinstance(callback.message, Message) else None
    items = keyboards.digest_items(message.reply_markup if message else None)
    item: DigestItem | None = None
    if pressed is not None and pressed.item is not None:
        # The message's own number button is the truth about the paper, not the pressed data.
        item = next((i for i in items if i.paper_id == pressed.item.paper_id), None)
    if message is None or pressed is None or (pressed.action is not Feedback.CLOSE and not item):
        await callback.answer(texts.FEEDBACK_EXPIRED, show_alert=True)
        return
    if pressed.action is Feedback.SIMILAR and item is not None:
        await callback.answer()
        await _send_similar(message, item, ctx)
        return
    if pressed.action in (Feedback.LIKE, Feedback.DISLIKE) and item is not None:
        vote = 1 if pressed.action is Feedback.LIKE else -1
        async with chat_unit(update, ctx) as (session, _, _):
            now_voted = await feedback.toggle_vote(
                session=session,
                chat_id=chat.id,
                paper_id=item.paper_id,
                vote=vote,
                suggested=item.suggested,
                now=ctx.services.now(),
            )
        if now_voted is None:
            await callback.answer(texts.FEEDBACK_EXPIRED, show_alert=True)
            return
        await callback.answer(_TOASTS[now_voted])
    else:
        await callback.answer()
    async with ctx.session() as session:
        votes = await feedback.votes_on(
            session=session, chat_id=chat.id, paper_ids=[i.paper_id for i in items]
        )
    # A vote keeps the paper's actions open, so the reader sees what they chose.
    opened = None if pressed.action is Feedback.CLOSE else item
    await _show(message, keyboards.digest_keyboard(items, opened=opened, votes=votes))


async def _show(message: Message, markup: InlineKeyboardMarkup | None) -> None:
    try:
        await message.edit_reply_markup(reply_markup=markup)
    except BadRequest as exc:
        # A second press on the same button, or two replicas answering one keyboard.
        if not is_not_modified(exc):
            raise


async def similar_ids(ctx: AppContext, paper_id: str) -> list[str] | None:
    """The papers nearest to this one, best first; None where papers have no vectors."""
    vectors = ctx.services.vectors
    if vectors.model_name is None:
        return None
    return await vectors.similar(paper_id, k=SIMILAR_COUNT)


async def _send_similar(message: Message, item: DigestItem, ctx: AppContext) -> None:
    """Reply to the digest message with the paper's nearest papers as compact cards."""
    nearest = await similar_ids(ctx, item.paper_id)
    if nearest is None:
        await message.reply_html(texts.SIMILAR_UNAVAILABLE)
        return
    async with ctx.session() as session:
        found = await search.papers_by_ids(
            session=session, paper_ids=[item.paper_id, *nearest[:SIMILAR_COUNT]]
        )
    source = next((hit for hit in found if hit.id == item.paper_id), None)
    hits = [hit for hit in found if hit.id != item.paper_id]
    if source is None or not hits:
        await message.reply_html(texts.SIMILAR_NONE)
        return
    header = texts.similar_header(view(source).title)
    text = render_search_page([view(hit) for hit in hits], header=header, first_number=1)
    await message.reply_html(text, link_preview_options=_NO_PREVIEW)
