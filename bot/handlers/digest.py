"""/digest: the pending digest, now; on a weekly chat, the week's digest."""

from __future__ import annotations

from telegram import Update

from bot import texts
from bot.context import AppContext
from bot.delivery import Deliverer, compose_digests, following_digest
from bot.handlers.common import answer, chat_unit, refuse_non_admin
from content.render import DigestFormat
from content.schedule import zone
from storage import chats, digests, follows


async def digest_now(update: Update, ctx: AppContext) -> None:
    """Send what is new for this chat now, late code links included; it counts as today's digest.

    In groups and channels only administrators may: it takes the place of the morning digest.
    A weekly chat gets the week's best papers it has not received; its weekday stays.
    From a private chat that runs a channel (/channels) the digest is published in the channel.
    """
    message = update.effective_message
    if message is None or await refuse_non_admin(update, ctx, reply=texts.DIGEST_ADMINS_ONLY):
        return
    services = ctx.services
    now = services.now()
    async with chat_unit(update, ctx) as (session, chat, tags):
        profiles = await follows.load_profiles(session=session, tags={chat.id: tags})
        wanted = profiles[chat.id]
        weekday = chat.digest_weekday
        since = await digests.default_since(session=session)
        composed, week_from = None, None
        followups: tuple[digests.CodeFollowup, ...] = ()
        if wanted.wants_anything and since is not None:
            found, week_from = await compose_digests(
                services,
                session=session,
                profiles=profiles,
                weekly=() if weekday is None else (chat.id,),
            )
            composed = found.get(chat.id)
            owed = await digests.code_followups(
                session=session, chat_ids=[chat.id], since=since - digests.CODE_WINDOW
            )
            followups = owed.get(chat.id, ())
    if not wanted.wants_anything:
        await answer(message, ctx, texts.NOTHING_TO_DIGEST)
        return
    following = following_digest(now, chat.timezone, chat.digest_time, weekday)
    if composed is None or (not composed.papers and not followups):
        await answer(message, ctx, texts.nothing_new(following, chat.timezone, now))
        return
    today = now.astimezone(zone(chat.timezone)).date()
    async with ctx.session() as session, session.begin():
        # Locked first, as a claim locks it: a claim committed meanwhile is seen, not raced.
        await chats.lock_chat(session=session, chat_id=chat.id)
        # A scheduled digest late from an earlier day has a run of that day, not today's:
        # its sender's claim on the chat tells that it is going out.
        held = await digests.claim_held(session=session, chat_id=chat.id, now=now)
        claimed = not held and await digests.start_run(
            session=session,
            chat_id=chat.id,
            local_date=today,
            now=now,
            lease=ctx.settings.delivery_lease,
        )
        status = await digests.run_status(session=session, chat_id=chat.id, local_date=today)
    if held or (not claimed and status == digests.RUN_SENDING):
        # The scheduled digest is going out this very moment.
        await answer(message, ctx, texts.DIGEST_IN_PROGRESS)
        return
    sent = await Deliverer(services, ctx.bot).send(
        chat.id,
        tags,
        composed,
        today,
        topics=wanted.topics,
        digest_format=DigestFormat(chat.digest_format),
        week_from=week_from,
        code_followups=followups,
    )
    async with ctx.session() as session, session.begin():
        # The chat's row first, then its run: the order in which a claim locks them.
        await chats.set_next_digest_at(session=session, chat_id=chat.id, when=following)
        if claimed:
            await digests.finish_run(
                session=session,
                chat_id=chat.id,
                local_date=today,
                status="done",
                error=None,
                now=now,
            )
    if not sent:
        # The morning digest got there first, between composing and sending.
        await answer(message, ctx, texts.nothing_new(following, chat.timezone, now))
    elif ctx.managed is not None:
        # Run from a private chat, the digest went to the channel: say so where it was asked.
        await answer(message, ctx, texts.DIGEST_PUBLISHED)
