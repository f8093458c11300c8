"""Every handler of the bot, registered in one place."""

from __future__ import annotations

from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import keyboards
from bot.handlers import (
    admin,
    channels,
    chat_settings,
    digest,
    fallback,
    feedback,
    follows,
    membership,
    observe,
    search,
    start,
    subscriptions,
)
from bot.handlers.errors import on_error

# (command, Russian description) in menu order; also the source of /help's order.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Начать и выбрать темы"),
    ("subscribe", "Подписаться на теги: /subscribe mllm moe"),
    ("unsubscribe", "Отписаться от тегов"),
    ("tags", "Все темы с кнопками"),
    ("follow", "Следить за словами: /follow watermark"),
    ("author", "Следить за автором: /author Yann LeCun"),
    ("mute", "Скрыть слово или тег: /mute video"),
    ("mytags", "Мои подписки, время и часовой пояс"),
    ("digest", "Прислать свежий дайджест сейчас"),
    ("search", "Поиск статей: /search смесь экспертов"),
    ("time", "Время дайджеста: /time 08:30"),
    ("timezone", "Часовой пояс: /timezone Europe/Moscow или +3"),
    ("weekly", "Раз в неделю: /weekly пятница"),
    ("daily", "Дайджест каждый день"),
    ("format", "Формат дайджеста: /format компактный"),
    ("pause", "Приостановить дайджесты"),
    ("resume", "Снова присылать дайджесты"),
    ("channels", "Настроить свой канал или группу отсюда"),
    ("help", "Все команды с примерами"),
)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Attach all handlers and the error handler to the application."""
    # New messages and channel posts; a channel post copied into its discussion group is the
    # channel's, not the group's, and was answered in the channel already.
    only_new = (
        filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
    ) & ~filters.IS_AUTOMATIC_FORWARD
    # Group -2 sees every update first and lets it through to the handlers below.
    app.add_handler(TypeHandler(Update, observe.count_update), group=-2)
    # Group -1: a private chat that runs a group or channel aims its settings commands and
    # buttons there, once its admin's rights are confirmed (or stops them with the reason).
    private = filters.ChatType.PRIVATE & only_new
    app.add_handler(
        CommandHandler(channels.MANAGED_COMMANDS, channels.aim, filters=private), group=-1
    )
    app.add_handler(CallbackQueryHandler(channels.aim, pattern=channels.MANAGED_BUTTONS), group=-1)
    app.add_handler(ChatMemberHandler(membership.my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, membership.migrated))
    app.add_handler(CommandHandler("start", start.start, filters=only_new))
    app.add_handler(CommandHandler("help", start.help_command, filters=only_new))
    app.add_handler(CommandHandler("subscribe", subscriptions.subscribe, filters=only_new))
    app.add_handler(CommandHandler("unsubscribe", subscriptions.unsubscribe, filters=only_new))
    app.add_handler(CommandHandler("tags", subscriptions.send_tags_overview, filters=only_new))
    app.add_handler(CommandHandler("mytags", subscriptions.mytags, filters=only_new))
    app.add_handler(CommandHandler("follow", follows.follow, filters=only_new))
    app.add_handler(CommandHandler("unfollow", follows.unfollow, filters=only_new))
    app.add_handler(CommandHandler("author", follows.author, filters=only_new))
    app.add_handler(CommandHandler("mute", follows.mute, filters=only_new))
    app.add_handler(CommandHandler("unmute", follows.unmute, filters=only_new))
    app.add_handler(CommandHandler("digest", digest.digest_now, filters=only_new))
    app.add_handler(CommandHandler("search", search.search_command, filters=only_new))
    app.add_handler(CommandHandler("time", chat_settings.set_time, filters=only_new))
    app.add_handler(CommandHandler("timezone", chat_settings.set_timezone, filters=only_new))
    app.add_handler(CommandHandler("weekly", chat_settings.set_weekly, filters=only_new))
    app.add_handler(CommandHandler("daily", chat_settings.set_daily, filters=only_new))
    app.add_handler(CommandHandler("format", chat_settings.set_format, filters=only_new))
    app.add_handler(CommandHandler("pause", chat_settings.pause, filters=only_new))
    app.add_handler(CommandHandler("resume", chat_settings.resume, filters=only_new))
    app.add_handler(CommandHandler("channels", channels.list_channels, filters=only_new))
    # Not in COMMANDS: the menu is public, and to non-admins /stats is an unknown command.
    app.add_handler(CommandHandler("stats", admin.stats, filters=only_new))
    app.add_handler(
        CallbackQueryHandler(search.page_button, pattern=keyboards.SEARCH_CALLBACK_PATTERN)
    )
    app.add_handler(
        CallbackQueryHandler(feedback.digest_button, pattern=keyboards.FEEDBACK_CALLBACK_PATTERN)
    )
    app.add_handler(
        CallbackQueryHandler(follows.remove_button, pattern=keyboards.FOLLOW_CALLBACK_PATTERN)
    )
    app.add_handler(
        CallbackQueryHandler(chat_settings.format_button, pattern=keyboards.FORMAT_CALLBACK_PATTERN)
    )
    app.add_handler(
        CallbackQueryHandler(chat_settings.rhythm_button, pattern=keyboards.RHYTHM_CALLBACK_PATTERN)
    )
    app.add_handler(
        CallbackQueryHandler(channels.choose, pattern=keyboards.CHANNEL_CALLBACK_PATTERN)
    )
    app.add_handler(CallbackQueryHandler(subscriptions.tag_button))
    app.add_handler(InlineQueryHandler(search.inline_query))
    app.add_handler(MessageHandler(filters.COMMAND & only_new, fallback.unknown_command))
    app.add_handler(MessageHandler(filters.TEXT & only_new, fallback.plain_text))
    app.add_error_handler(on_error)


def bot_commands() -> list[BotCommand]:
    """The command menu shown by Telegram clients."""
    return [BotCommand(name, description) for name, description in COMMANDS]
