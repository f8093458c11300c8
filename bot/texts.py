"""Every user-facing Russian string of the bot, as Telegram HTML."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from html import escape

from bot.paid import NANOSTARS_PER_STAR, RoundPlan
from content import taxonomy
from content.feeds import FEED_PAPERS
from content.render import DigestFormat
from content.ru import count, date_ru
from content.schedule import zone, zone_label
from storage.digests import WEEKLY_MAX_PAPERS
from storage.stats import BotStats

ERROR = "⚠️ Что-то пошло не так. Попробуйте ещё раз чуть позже."
UNKNOWN_COMMAND = "Такой команды у меня нет. Список команд — /help"
NOT_A_COMMAND = (
    "Я понимаю команды. Например, <code>/subscribe mllm</code> — подписаться на статьи "
    "о мультимодальных LLM. Все команды — /help"
)
ADMINS_ONLY = "Менять подписки и настройки в этом чате могут только его администраторы."
DIGEST_ADMINS_ONLY = (
    "Запросить дайджест командой /digest здесь могут только администраторы чата. "
    "Обычный дайджест придёт по расписанию."
)
SEARCH_ADMINS_ONLY_SHORT = "Листать результаты в канале могут только его администраторы."
ADMINS_ONLY_SHORT = "Только администраторы чата могут менять подписки."
BUTTON_EXPIRED = "Эта кнопка устарела. Откройте список заново: /tags"
_ABOUT = (
    "Раз в день я присылаю дайджест новых статей по ML и AI на выбранные темы: "
    "коротко по-русски, со ссылкой на статью и на код."
)
ADDED_TO_GROUP = (
    f"👋 Привет! {_ABOUT}\n\n"
    "Выбрать темы могут администраторы чата — командой <code>/subscribe mllm agents</code> "
    "или кнопками в /tags. Время дайджеста — /time, часовой пояс — /timezone, "
    "все команды — /help"
)

_HELP = """<b>Что я умею</b>

В выбранное время, каждый день или раз в неделю, присылаю новые статьи по ML и AI \
на ваши темы: название и краткое содержание по-русски, ссылку на статью и 💻 ссылку \
на код, если он опубликован.

<b>Подписки</b>
/subscribe <i>теги</i> — подписаться, например <code>/subscribe mllm #moe benchmark</code>
/unsubscribe <i>теги</i> — отписаться, например <code>/unsubscribe moe</code>
/tags — все темы; нажатие на кнопку включает и выключает подписку
/mytags — ваши подписки, время дайджеста и часовой пояс

<b>Слова, авторы и скрытое</b>
/follow <i>слова</i> — статьи с этими словами в названии или аннотации, по-русски или \
по-английски: <code>/follow watermark</code>, <code>/follow водяные знаки, mixture of experts</code>
/author <i>имя</i> — статьи автора: <code>/author Yann LeCun</code>
/mute <i>слово или #тег</i> — никогда не присылать такие статьи: <code>/mute video</code>, \
<code>/mute #benchmark</code>
/follow, /mute без слов — список с кнопками ✖️; /unfollow и /unmute — убрать
Под каждой статьёй дайджеста строка 📌 — почему она пришла.

Теги можно писать как угодно: <code>mllm</code>, <code>#mllm</code>, <code>MLLM</code> — \
и по-русски: <code>мультимодальные</code>.

<b>Дайджест</b>
Приходит в выбранное время, каждый день или раз в неделю, только со статьями, \
которых вы ещё не видели.
/digest — прислать свежие статьи прямо сейчас (это заменит сегодняшний дайджест)
/weekly <i>день</i> — один дайджест в неделю, лучшие статьи недели: \
<code>/weekly пятница</code>, <code>/weekly пт</code>, <code>/weekly friday</code>
/daily — снова каждый день

<b>Поиск</b>
/search <i>запрос</i> — статьи по теме, названию модели или методу, по-русски или \
по-английски: <code>/search смесь экспертов</code>, <code>/search InternVL2-8B</code>, \
<code>/search #mllm галлюцинации</code> (только статьи с тегом #mllm)
Искать можно и в любом другом чате: начните сообщение с имени бота через @.

<b>Время, формат и пауза</b>
/time <i>ЧЧ:ММ</i> — во сколько присылать дайджест, например <code>/time 08:30</code>
/timezone <i>пояс</i> — часовой пояс: <code>/timezone Europe/Moscow</code>, \
<code>/timezone +3</code>, <code>/timezone UTC+05:30</code> или город: \
<code>/timezone Владивосток</code>
/format <i>компактный</i> или <i>полный</i> — в компактном дайджесте краткое содержание \
свёрнуто под названием и разворачивается нажатием
/pause — приостановить дайджесты, подписки сохранятся
/resume — снова присылать дайджесты

<b>Каналы и группы</b>
/channels — настроить канал или группу, где вы администратор, прямо отсюда: в сам канал \
я публикую только дайджесты"""


def help_text(feeds_url: str | None) -> str:
    """The /help text; with the Atom feeds' public address when they are served."""
    parts = [_HELP]
    if feeds_url:
        base = escape(feeds_url)
        parts.append(
            "<b>Atom-ленты</b>\n"
            f"Последние {count(FEED_PAPERS, 'статья', 'статьи', 'статей')} любой темы — "
            "в RSS-читалке: "
            f"<code>{base}/feeds/&lt;тег&gt;.atom</code>, например "
            f'<a href="{base}/feeds/mllm.atom">{base}/feeds/mllm.atom</a>'
        )
    parts.append("/help — эта справка")
    return "\n\n".join(parts)


def tag_list(tags: Iterable[str]) -> str:
    """Hashtags joined for a sentence: "#mllm, #moe"."""
    return ", ".join(taxonomy.hashtag(t) for t in tags)


def _when(next_at: dt.datetime, tz_name: str, now: dt.datetime) -> str:
    tz = zone(tz_name)
    local = next_at.astimezone(tz)
    today = now.astimezone(tz).date()
    if local.date() == today:
        day = "сегодня"
    elif local.date() == today + dt.timedelta(days=1):
        day = "завтра"
    else:
        day = date_ru(local.date())
    return f"{day} в {local:%H:%M} ({escape(zone_label(tz_name, next_at))})"


def schedule_line(
    digest_time: dt.time, tz_name: str, now: dt.datetime, weekday: int | None = None
) -> str:
    """One line with the chat's rhythm and delivery time."""
    label = escape(zone_label(tz_name, now))
    return f"🕘 Дайджест приходит {rhythm(weekday)} в {digest_time:%H:%M} ({label})."


# Monday is 0, as date.weekday() counts.
WEEKDAY_BUTTONS = ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс")
_WEEKDAYS_PLURAL = (
    "понедельникам",
    "вторникам",
    "средам",
    "четвергам",
    "пятницам",
    "субботам",
    "воскресеньям",
)


def rhythm(weekday: int | None) -> str:
    """How often the digest comes: "каждый день", or "по пятницам" for a weekly chat."""
    return "каждый день" if weekday is None else f"по {_WEEKDAYS_PLURAL[weekday]}"


def greeting(
    *,
    first_name: str | None,
    subscribed: Sequence[str],
    digest_time: dt.time,
    tz_name: str,
    now: dt.datetime,
    weekday: int | None = None,
) -> str:
    """The /start greeting."""
    hello = f"👋 Привет, {escape(first_name)}!" if first_name else "👋 Привет!"
    lines = [
        hello,
        "",
        "Я присылаю утренний дайджест новых статей по ML и AI на темы, которые вы выберете. "
        "Каждая статья — коротко по-русски, со ссылкой на статью и на код.",
        "",
    ]
    if subscribed:
        lines.append(f"Ваши темы: {tag_list(subscribed)}.")
    else:
        lines.append(
            "Выберите темы кнопками ниже или напишите, например, "
            "<code>/subscribe mllm agents</code>."
        )
    lines += [
        "",
        schedule_line(digest_time, tz_name, now, weekday),
        "Все темы — /tags, все команды — /help",
    ]
    return "\n".join(lines)


# A message full of typos must still fit into one Telegram message.
MAX_UNKNOWN_SHOWN = 5


def unknown_tags_lines(unknown: Sequence[tuple[str, str | None]]) -> list[str]:
    """Lines for unknown tags: a "did you mean" for each close one, the rest named together."""
    shown = unknown[:MAX_UNKNOWN_SHOWN]
    lines = [
        f"Тега «{escape(raw)}» нет. Может быть, {taxonomy.hashtag(suggestion)}?"
        for raw, suggestion in shown
        if suggestion
    ]
    lost = [raw for raw, suggestion in shown if not suggestion]
    rest = len(unknown) - len(shown)
    hint = "Список всех тем — /tags"
    if lost:
        names = [f"«{escape(raw)}»" for raw in lost]
        named = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} и {names[-1]}"
        noun = "Тега" if len(names) == 1 else "Тегов"
        lines.append(f"{noun} {named} нет." + ("" if rest > 0 else f" {hint}"))
    if rest > 0:
        words = count(rest, "непонятное слово", "непонятных слова", "непонятных слов")
        lines.append(f"…и ещё {words}. {hint}")
    return lines


def subscribed(
    *,
    added: Sequence[str],
    already: Sequence[str],
    over_limit: Sequence[str],
    unknown: Sequence[tuple[str, str | None]],
    limit: int,
    next_at: dt.datetime | None,
    tz_name: str,
    now: dt.datetime,
) -> str:
    """The answer to /subscribe."""
    lines: list[str] = []
    if added:
        lines.append(f"✅ Подписка оформлена: {tag_list(added)}.")
    if already:
        lines.append(f"Уже в подписке: {tag_list(already)}.")
    if over_limit:
        lines.append(
            f"Не добавлено: {tag_list(over_limit)} — в одном чате можно подписаться "
            f"не больше чем на {count(limit, 'тег', 'тега', 'тегов')}. "
            "Лишние можно убрать командой /unsubscribe."
        )
    lines += unknown_tags_lines(unknown)
    if added and next_at is not None:
        lines.append(f"Первый дайджест придёт {_when(next_at, tz_name, now)}.")
    return "\n".join(lines)


def unsubscribed(
    *,
    removed: Sequence[str],
    missing: Sequence[str],
    unknown: Sequence[tuple[str, str | None]],
    remaining: Sequence[str],
) -> str:
    """The answer to /unsubscribe."""
    lines: list[str] = []
    if removed:
        lines.append(f"🔕 Отписка: {tag_list(removed)}.")
    if missing:
        lines.append(f"На {tag_list(missing)} подписки и не было.")
    lines += unknown_tags_lines(unknown)
    if removed:
        if remaining:
            lines.append(f"Остались: {tag_list(remaining)}.")
        else:
            lines.append("Подписок больше нет, дайджесты приходить не будут. Темы — /tags")
    return "\n".join(lines)


SUBSCRIBE_USAGE = (
    "Напишите теги после команды, например <code>/subscribe mllm #moe benchmark</code>, "
    "или выберите темы кнопками:"
)
UNSUBSCRIBE_PICK = "От каких тем отписаться? Нажмите на тег:"
NOTHING_TO_UNSUBSCRIBE = (
    "Вы ни на что не подписаны. Выберите темы: /tags или напишите <code>/subscribe mllm</code>"
)


def mytags(
    *,
    tags: Sequence[str],
    digest_time: dt.time,
    tz_name: str,
    now: dt.datetime,
    paused: bool,
    next_at: dt.datetime | None,
    follows: Sequence[tuple[str, str]] = (),
    digest_format: DigestFormat = DigestFormat.FULL,
    weekday: int | None = None,
) -> str:
    """The answer to /mytags: subscriptions, follows, mutes, rhythm, schedule, pause and format.

    ``follows`` are (kind, text as typed) pairs, kinds as in ``content.matching``.
    """
    words = [text for kind, text in follows if kind == "word"]
    authors = [text for kind, text in follows if kind == "author"]
    muted = [text for kind, text in follows if kind in {"mute_word", "mute_tag"}]
    wants = bool(tags or words or authors)
    if not tags:
        body = [
            "Подписок на теги пока нет.",
            "Выберите темы: /tags или напишите <code>/subscribe mllm</code>.",
        ]
        if not wants:
            body[0] = "Пока нет ни одной подписки."
    else:
        body = [f"<b>Подписки</b> — {count(len(tags), 'тег', 'тега', 'тегов')}:"]
        for tag_id in tags:
            tag = taxonomy.get_tag(tag_id)
            name = f" — {escape(tag.name_ru)}" if tag else ""
            body.append(f"{taxonomy.hashtag(tag_id)}{name}")
    if words:
        body.append(f"🔔 Слова: {_quoted(words)}")
    if authors:
        body.append(f"👤 Авторы: {', '.join(_echo_query(a) for a in authors)}")
    if muted:
        body.append(f"🔇 Скрыто: {', '.join(_echo_query(m) for m in muted)}")
    if words or authors or muted:
        body.append("Изменить: /follow, /author, /mute")
    lines = [*body, "", schedule_line(digest_time, tz_name, now, weekday)]
    if wants or paused:
        lines.append(
            next_digest_line(
                next_at=next_at, tz_name=tz_name, now=now, paused=paused, subscribed=wants
            )
        )
    lines.append(f"📰 Формат дайджеста: {FORMAT_NAMES[digest_format]}.")
    other = "/weekly — раз в неделю" if weekday is None else "/daily — каждый день"
    lines.append(
        f"Изменить: /time — время, /timezone — часовой пояс, {other}, /format — формат, "
        "/pause — пауза."
    )
    return "\n".join(lines)


def tags_overview(*, subscribed: Iterable[str], paper_counts: Mapping[str, int]) -> str:
    """The /tags message: every tag grouped by family, with paper counts."""
    mine = set(subscribed)
    lines = ["<b>Темы дайджеста</b>", "Нажмите на тег, чтобы подписаться или отписаться."]
    for family, tags in taxonomy.tags_by_family().items():
        lines += ["", f"<b>{escape(taxonomy.FAMILY_NAMES_RU[family])}</b>"]
        for tag in tags:
            mark = "✅ " if tag.id in mine else ""
            papers = paper_counts.get(tag.id, 0)
            suffix = f" · {papers}" if papers else ""
            lines.append(f"{mark}{taxonomy.hashtag(tag.id)} — {escape(tag.name_ru)}{suffix}")
    return "\n".join(lines)


def toggled(tag_id: str, subscribed_now: bool | None, limit: int) -> str:
    """A short toast after a tag button press."""
    if subscribed_now is None:
        return f"Не больше {count(limit, 'тега', 'тегов', 'тегов')} в одном чате."
    if subscribed_now:
        return f"Подписка на {taxonomy.hashtag(tag_id)} оформлена"
    return f"Подписка на {taxonomy.hashtag(tag_id)} отменена"


def subscribed_by_button(tag_id: str) -> str:
    """The edited "did you mean" message once its button was pressed."""
    return f"✅ Подписка оформлена: {taxonomy.hashtag(tag_id)}."


# --- settings: /time, /timezone, /pause, /resume ----------------------------------------------

# Echoed user input is cut short: a 5,000-character argument must not fill the answer.
_MAX_ECHO = 40


def _echo(raw: str) -> str:
    shown = raw if len(raw) <= _MAX_ECHO else raw[: _MAX_ECHO - 1] + "…"
    return escape(shown)


def next_digest_line(
    *,
    next_at: dt.datetime | None,
    tz_name: str,
    now: dt.datetime,
    paused: bool,
    subscribed: bool,
) -> str:
    """When the next digest comes, or why none will."""
    if paused:
        return "⏸ Дайджесты на паузе. Включить снова: /resume"
    if not subscribed or next_at is None:
        return "Подпишитесь на темы, чтобы получать дайджест: /tags"
    if next_at <= now:
        # Overdue means owed: the delivery job picks it up on its next tick.
        return "Следующий дайджест придёт в ближайшие минуты."
    return f"Следующий дайджест придёт {_when(next_at, tz_name, now)}."


TIME_EXAMPLES = "например <code>/time 08:30</code> или <code>/time 9</code>"


def time_usage(
    *, digest_time: dt.time, tz_name: str, now: dt.datetime, weekday: int | None = None
) -> str:
    """The answer to /time without a value."""
    return "\n".join(
        [
            schedule_line(digest_time, tz_name, now, weekday),
            f"Чтобы изменить время, напишите его после команды, {TIME_EXAMPLES}.",
            "Часовой пояс меняет /timezone",
        ]
    )


def bad_time(raw: str) -> str:
    """The answer to /time with a value that is not a time of day."""
    return (
        f"Не понял время «{_echo(raw)}». Напишите часы и минуты от 00:00 до 23:59, {TIME_EXAMPLES}."
    )


def time_changed(
    *,
    digest_time: dt.time,
    tz_name: str,
    now: dt.datetime,
    next_at: dt.datetime | None,
    paused: bool,
    subscribed: bool,
    weekday: int | None = None,
) -> str:
    """The answer to /time that changed the delivery time."""
    return "\n".join(
        [
            f"✅ Теперь дайджест будет приходить {rhythm(weekday)} в {digest_time:%H:%M}.",
            next_digest_line(
                next_at=next_at, tz_name=tz_name, now=now, paused=paused, subscribed=subscribed
            ),
        ]
    )


TIMEZONE_EXAMPLES = (
    "<code>/timezone Europe/Moscow</code>\n"
    "<code>/timezone +3</code> или <code>/timezone UTC+05:30</code>\n"
    "<code>/timezone Владивосток</code>"
)


def _zone_now(tz_name: str, now: dt.datetime) -> str:
    local = now.astimezone(zone(tz_name))
    return f"{escape(zone_label(tz_name, now))}, местное время сейчас — {local:%H:%M}"


def timezone_usage(*, tz_name: str, now: dt.datetime) -> str:
    """The answer to /timezone without a value."""
    return "\n".join(
        [
            f"🌍 Часовой пояс: {_zone_now(tz_name, now)}.",
            "Чтобы изменить, напишите, например:",
            TIMEZONE_EXAMPLES,
        ]
    )


def bad_timezone(raw: str) -> str:
    """The answer to /timezone with a value that is no timezone."""
    return (
        f"Не знаю часового пояса «{_echo(raw)}». Напишите название пояса, город "
        f"или смещение от UTC, например:\n{TIMEZONE_EXAMPLES}"
    )


def timezone_changed(
    *,
    tz_name: str,
    digest_time: dt.time,
    now: dt.datetime,
    next_at: dt.datetime | None,
    paused: bool,
    subscribed: bool,
    weekday: int | None = None,
) -> str:
    """The answer to /timezone that changed the timezone."""
    lines = [f"✅ Часовой пояс: {_zone_now(tz_name, now)}."]
    if paused or not subscribed:
        when = "" if weekday is None else f"{rhythm(weekday)} "
        lines.append(f"Дайджест приходит {when}в {digest_time:%H:%M} по местному времени.")
    lines.append(
        next_digest_line(
            next_at=next_at, tz_name=tz_name, now=now, paused=paused, subscribed=subscribed
        )
    )
    return "\n".join(lines)


# --- /format ----------------------------------------------------------------------------------

FORMAT_NAMES = {DigestFormat.FULL: "полный", DigestFormat.COMPACT: "компактный"}
_FORMAT_CASES = {DigestFormat.FULL: "полном", DigestFormat.COMPACT: "компактном"}
_FORMAT_ABOUT = {
    DigestFormat.FULL: "название и краткое содержание каждой статьи целиком",
    DigestFormat.COMPACT: "краткое содержание свёрнуто под названием и раскрывается нажатием",
}
FORMAT_BUTTONS = {DigestFormat.FULL: "📄 Полный", DigestFormat.COMPACT: "🗂 Компактный"}
FORMAT_EXAMPLES = "<code>/format компактный</code> или <code>/format полный</code>"
FORMAT_ADMINS_ONLY_SHORT = "Только администраторы чата могут менять формат дайджеста."
FORMAT_BUTTON_EXPIRED = "Эта кнопка устарела. Откройте выбор заново: /format"


def _format_line(digest_format: DigestFormat) -> str:
    name = FORMAT_NAMES[digest_format]
    return f"📰 Формат дайджеста: <b>{name}</b> — {_FORMAT_ABOUT[digest_format]}."


def format_usage(digest_format: DigestFormat) -> str:
    """The answer to /format without a value: the current format and how to switch."""
    return "\n".join(
        [
            _format_line(digest_format),
            f"Выберите формат кнопкой или напишите {FORMAT_EXAMPLES}.",
        ]
    )


def bad_format(raw: str) -> str:
    """The answer to /format with a word that names no format."""
    return f"Не знаю формата «{_echo(raw)}». Напишите {FORMAT_EXAMPLES}."


def format_changed(digest_format: DigestFormat, *, changed: bool) -> str:
    """The answer to /format that set the format (or found it set already)."""
    if not changed:
        return f"Дайджест и так приходит в {_FORMAT_CASES[digest_format]} формате."
    return "✅ " + _format_line(digest_format)


def format_toast(digest_format: DigestFormat) -> str:
    """The short notice after a format button press."""
    return f"Формат дайджеста: {FORMAT_NAMES[digest_format]}"


# --- /weekly, /daily ---------------------------------------------------------------------------

WEEKLY_EXAMPLES = (
    "<code>/weekly пятница</code>, <code>/weekly пт</code> или <code>/weekly friday</code>"
)
DAILY_BUTTON = "📅 Каждый день"
RHYTHM_ADMINS_ONLY_SHORT = "Только администраторы чата могут менять, как часто приходит дайджест."
RHYTHM_BUTTON_EXPIRED = "Эта кнопка устарела. Откройте выбор заново: /weekly"


def _rhythm_line(weekday: int | None, digest_time: dt.time) -> str:
    if weekday is None:
        return f"🗓 Дайджест приходит <b>каждый день</b> в {digest_time:%H:%M}."
    return (
        f"🗓 Дайджест приходит <b>раз в неделю, {rhythm(weekday)}</b>, в {digest_time:%H:%M}: "
        f"лучшие статьи недели, не больше {WEEKLY_MAX_PAPERS}."
    )


def weekly_usage(weekday: int | None, digest_time: dt.time) -> str:
    """The answer to /weekly without a day: the rhythm now and how to change it."""
    back = "\nКаждый день снова: /daily" if weekday is not None else ""
    return (
        f"{_rhythm_line(weekday, digest_time)}\n"
        f"Выберите день недели кнопкой или напишите {WEEKLY_EXAMPLES}.{back}"
    )


def bad_weekday(raw: str) -> str:
    """The answer to /weekly with a word that names no weekday."""
    return (
        f"Не понял день недели «{_echo(raw)}». Выберите его кнопкой или напишите {WEEKLY_EXAMPLES}."
    )


def rhythm_changed(
    *,
    weekday: int | None,
    changed: bool,
    digest_time: dt.time,
    tz_name: str,
    now: dt.datetime,
    next_at: dt.datetime | None,
    paused: bool,
    subscribed: bool,
) -> str:
    """The answer to /weekly or /daily: the rhythm set (or found set already), the next digest."""
    if changed:
        first = "✅ " + _rhythm_line(weekday, digest_time)
    elif weekday is None:
        first = "Дайджест и так приходит каждый день."
    else:
        first = f"Дайджест и так приходит раз в неделю, {rhythm(weekday)}."
    line = next_digest_line(
        next_at=next_at, tz_name=tz_name, now=now, paused=paused, subscribed=subscribed
    )
    return f"{first}\n{line}"


def rhythm_toast(weekday: int | None) -> str:
    """The short notice after a rhythm button press."""
    return "Дайджест: каждый день" if weekday is None else f"Дайджест: {rhythm(weekday)}"


PAUSED = "⏸ Дайджесты на паузе, подписки сохранены. Включить снова: /resume"
ALREADY_PAUSED = "Дайджесты уже на паузе. Включить снова: /resume"


def resumed(
    *,
    was_paused: bool,
    next_at: dt.datetime | None,
    tz_name: str,
    now: dt.datetime,
    subscribed: bool,
) -> str:
    """The answer to /resume."""
    first = "▶️ Дайджесты снова включены." if was_paused else "Дайджесты уже включены."
    line = next_digest_line(
        next_at=next_at, tz_name=tz_name, now=now, paused=False, subscribed=subscribed
    )
    return f"{first}\n{line}"


NOTHING_TO_DIGEST = (
    "Вы пока ни на что не подписаны, поэтому дайджест пуст. "
    "Выберите темы: /tags или напишите <code>/subscribe mllm</code>."
)


def nothing_new(next_at: dt.datetime, tz_name: str, now: dt.datetime) -> str:
    """/digest when nothing new has appeared for the chat's tags."""
    return (
        # Not "you have had everything": a chat whose topics matched nothing had nothing.
        "Новых статей по вашим темам пока нет.\n"
        f"Следующий дайджест придёт {_when(next_at, tz_name, now)}."
    )


DIGEST_IN_PROGRESS = "Сегодняшний дайджест как раз отправляется — он придёт через минуту."


def _moment(at: dt.datetime | None, tz_name: str, now: dt.datetime) -> str:
    if at is None:
        return "ещё не было"
    local = at.astimezone(zone(tz_name))
    day = (
        "сегодня" if local.date() == now.astimezone(zone(tz_name)).date() else date_ru(local.date())
    )
    return f"{day} в {local:%H:%M} ({escape(zone_label(tz_name, at))})"


def stats(s: BotStats, *, tz_name: str, now: dt.datetime) -> str:
    """/stats for the bot's admins."""
    runs = s.runs_today
    top = ", ".join(f"{taxonomy.hashtag(tag)} {n}" for tag, n in s.top_tags) or "—"
    return "\n".join(
        [
            "📊 <b>Статистика бота</b>",
            "",
            # "label: number" needs no agreement of the word with the number ("1 активных").
            f"<b>Чаты:</b> активны: {s.chats_active}, на паузе: {s.chats_paused}, "
            f"заблокировали бота: {s.chats_blocked}",
            f"<b>Подписки:</b> {count(s.subscriptions, 'подписка', 'подписки', 'подписок')} "
            f"в {count(s.subscribed_chats, 'чате', 'чатах', 'чатах')}",
            f"<b>Популярные теги:</b> {top}",
            f"<b>Статьи:</b> в каталоге: {s.papers}, готовы к рассылке: {s.papers_ready}",
            f"<b>Каталог обновлён:</b> {_moment(s.last_ingest, tz_name, now)}",
            "",
            f"<b>Сегодня</b> (с 00:00, {escape(zone_label(tz_name, now))}):",
            f"дайджестов отправлено: {runs.get('done', 0)}, пустых дней: {runs.get('empty', 0)}",
            f"статей доставлено: {s.papers_delivered_today}",
            f"не доставлено: {runs.get('failed', 0)} (ошибки), "
            f"{runs.get('blocked', 0)} (бот заблокирован)",
        ]
    )


def _stars(nanostars: int) -> str:
    """Stars as people write them: ``1 000 ⭐``, ``12,5 ⭐`` (tenths, rounded down)."""
    tenths = nanostars // (NANOSTARS_PER_STAR // 10)
    whole, tenth = divmod(tenths, 10)
    text = f"{whole:,}".replace(",", "\u00a0")
    return f"{text},{tenth} ⭐" if tenth else f"{text} ⭐"


def paid_broadcast(
    plan: RoundPlan | None,
    *,
    paid_rate: float,
    free_rate: float,
    tz_name: str,
    now: dt.datetime,
) -> str:
    """/stats: how the last delivery round used paid broadcasts, and why not when it did not."""
    if plan is None:
        return (
            f"<b>Платная рассылка:</b> включена, до {paid_rate:g} сообщений в секунду; "
            "баланс звёзд проверяется перед каждой рассылкой, её ещё не было"
        )
    due = (
        f"рассылка {_moment(plan.at, tz_name, now)}: "
        f"{count(plan.messages, 'сообщение', 'сообщения', 'сообщений')}"
    )
    if plan.paid:
        assert plan.balance is not None
        return (
            f"<b>Платная рассылка:</b> включена, {paid_rate:g} сообщений в секунду; {due}, "
            f"ожидаемая стоимость {_stars(plan.cost)}, на балансе было {_stars(plan.balance)}"
        )
    if plan.balance is not None:
        why = f"на балансе {_stars(plan.balance)}, нужно {_stars(plan.cost)}"
    else:
        why = f"не удалось узнать баланс звёзд ({escape((plan.error or '').split(':')[0])})"
    return (
        f"<b>Платная рассылка выключена:</b> {why}.\n"
        f"Р{due[1:]} — бесплатно, {free_rate:g} сообщений в секунду."
    )


# --- search -----------------------------------------------------------------------------------

SEARCH_EXAMPLES = (
    "<code>/search смесь экспертов</code>\n"
    "<code>/search InternVL2-8B</code>\n"
    "<code>/search #mllm галлюцинации</code> — только статьи с тегом #mllm"
)


def search_usage(bot_username: str | None) -> str:
    """/search without a query: what to write."""
    lines = [
        "🔎 <b>Поиск по статьям</b>",
        "Напишите после команды тему, название модели или метода — по-русски или по-английски:",
        SEARCH_EXAMPLES,
    ]
    if bot_username:
        lines += [
            "",
            f"Искать можно и в любом чате: напишите <code>@{escape(bot_username)} запрос</code> "
            "и выберите статью из списка.",
        ]
    return "\n".join(lines)


def search_header(query: str, *, first: int, last: int, relaxed: bool) -> str:
    """The first line of a page of results."""
    line = f"🔎 <b>{_echo_query(query)}</b> · {first}–{last}"
    if relaxed:
        line += "\nСтатей со всеми словами запроса нет — вот те, где есть часть из них."
    return line


def search_nothing(query: str) -> str:
    """/search that found nothing."""
    return (
        f"По запросу «{_echo_query(query)}» ничего не нашлось.\n"
        "Попробуйте короче или другими словами — например, английское название метода "
        "(<code>/search mixture of experts</code>) или тег (<code>/search #moe</code>). "
        "Все теги — /tags"
    )


SEARCH_EXPIRED = "Этот поиск устарел. Повторите его: /search запрос"
SEARCH_PAGE_EMPTY = "Дальше результатов нет."
INLINE_NOTHING = "Ничего не нашлось — попробуйте другие слова"

# A search echoes more of the query than a setting does, but still not all 256 characters.
_MAX_QUERY_ECHO = 80


def _echo_query(query: str) -> str:
    shown = query if len(query) <= _MAX_QUERY_ECHO else query[: _MAX_QUERY_ECHO - 1] + "…"
    return escape(shown)


# --- follows, authors and mutes ---------------------------------------------------------------

FOLLOW_EXAMPLES = (
    "<code>/follow watermark</code> — статьи, где встречается это слово\n"
    "<code>/follow водяные знаки, mixture of experts</code> — несколько сразу, через запятую; "
    "слова одной подписки должны встретиться все\n"
    "<code>/author Yann LeCun</code> — статьи автора"
)
FOLLOW_USAGE = (
    "🔔 Слова и авторы попадут в дайджест вместе с вашими темами. Напишите, например:\n"
    + FOLLOW_EXAMPLES
)
AUTHOR_USAGE = (
    "Напишите имя автора после команды: <code>/author Yann LeCun</code> или "
    "<code>/author LeCun</code>. Несколько — через запятую."
)
MUTE_USAGE = (
    "🔇 Скрыть из дайджеста статьи со словом или тегом:\n"
    "<code>/mute video</code>, <code>/mute #benchmark</code>, несколько — через запятую.\n"
    "Скрытое сильнее любых подписок."
)
NOTHING_FOLLOWED = "Вы пока не следите ни за словами, ни за авторами.\n" + FOLLOW_EXAMPLES
NOTHING_MUTED = "Скрытых слов и тегов нет.\n" + MUTE_USAGE
FOLLOWS_PICK = "Нажмите ✖️, чтобы убрать."
FOLLOW_BUTTON_EXPIRED = "Этого уже нет в списке. Откройте его заново: /follow или /mute"
FOLLOW_ADMINS_ONLY_SHORT = "Только администраторы чата могут менять подписки."


def _quoted(texts: Iterable[str]) -> str:
    return ", ".join(f"«{_echo_query(text)}»" for text in texts)


def follows_list(*, words: Sequence[str], authors: Sequence[str], limit: int) -> str:
    """/follow without arguments: the chat's followed words and authors."""
    lines = [f"<b>Слежу</b> — {len(words) + len(authors)} из {limit}:"]
    if words:
        lines.append(f"Слова: {_quoted(words)}")
    if authors:
        lines.append(f"Авторы: {', '.join(_echo_query(a) for a in authors)}")
    lines.append(FOLLOWS_PICK)
    return "\n".join(lines)


def mutes_list(*, words: Sequence[str], tags: Sequence[str], limit: int) -> str:
    """/mute without arguments: the chat's muted words and tags."""
    lines = [f"<b>Скрыто</b> — {len(words) + len(tags)} из {limit}:"]
    if words:
        lines.append(f"Слова: {_quoted(words)}")
    if tags:
        lines.append(f"Теги: {tag_list(tags)}")
    lines.append(FOLLOWS_PICK)
    return "\n".join(lines)


def follows_changed(
    *,
    what: str,
    added: Sequence[str],
    already: Sequence[str],
    over_limit: Sequence[str],
    too_long: Sequence[str],
    unreadable: Sequence[str],
    tags: Sequence[str] = (),
    unknown_tags: Sequence[tuple[str, str | None]] = (),
    limit: int,
    next_at: dt.datetime | None = None,
    tz_name: str = "",
    now: dt.datetime | None = None,
) -> str:
    """The answer to /follow, /author or /mute; ``what`` is "word", "author" or "mute"."""
    lines: list[str] = []
    if added:
        head = {
            "word": "✅ Слежу за словами",
            "author": "✅ Слежу за авторами",
            "mute": "🔇 Скрыто из дайджеста",
        }[what]
        shown = ", ".join(_echo_query(a) for a in added) if what == "author" else _quoted(added)
        lines.append(f"{head}: {shown}.")
    if already:
        lines.append(f"Уже в списке: {_quoted(already)}.")
    if over_limit:
        group = "скрытых слов и тегов" if what == "mute" else "слов и авторов"
        command = "/mute" if what == "mute" else "/follow"
        lines.append(
            f"Не добавлено: {_quoted(over_limit)} — в одном чате не больше {limit} {group}. "
            f"Лишние можно убрать: {command}"
        )
    if too_long:
        lines.append(
            f"Слишком длинно: {_quoted(too_long)} — не больше 100 символов в одной подписке."
        )
    if unreadable:
        if what == "author":
            lines.append(
                f"Не понял имя {_quoted(unreadable)}: напишите фамилию или имя и фамилию, "
                "например <code>/author LeCun</code>."
            )
        else:
            lines.append(
                f"В {_quoted(unreadable)} нет слов, по которым можно искать "
                "(предлоги и знаки не считаются)."
            )
    if tags:
        names = " ".join(tags)
        lines.append(
            f"{tag_list(tags)} — это теги: подпишитесь на них командой "
            f"<code>/subscribe {escape(names)}</code>."
        )
    lines += unknown_tags_lines(unknown_tags)
    if added and next_at is not None and now is not None and next_at > now:
        lines.append(f"Первый дайджест придёт {_when(next_at, tz_name, now)}.")
    return "\n".join(lines) or FOLLOW_USAGE


def follows_removed(*, removed: Sequence[str], missing: Sequence[str], mute: bool) -> str:
    """The answer to /unfollow or /unmute."""
    lines: list[str] = []
    if removed:
        head = "🔔 Больше не скрыто" if mute else "🔕 Больше не слежу"
        lines.append(f"{head}: {_quoted(removed)}.")
    if missing:
        place = "среди скрытых" if mute else "в вашем списке"
        command = "/mute" if mute else "/follow"
        lines.append(f"{_quoted(missing)} {place} нет. Список — {command}")
    return "\n".join(lines)


def follow_removed_toast(text: str) -> str:
    """A short toast after a ✖️ press."""
    shown = text if len(text) <= 40 else text[:39] + "…"
    return f"Убрано: {shown}"


# --- 👍/👎 and «Похожие» under digest messages ---------------------------------------------------

# Toasts: answerCallbackQuery shows at most 200 characters.
VOTE_LIKED = "👍 Учту: похожих статей будет больше"
VOTE_DISLIKED = "👎 Учту: похожих статей будет меньше"
VOTE_WITHDRAWN = "Оценка снята"
FEEDBACK_ADMINS_ONLY_SHORT = "Оценивать статьи в этом чате могут только его администраторы."
FEEDBACK_EXPIRED = "Эта кнопка устарела: статьи под ней больше нет."
SIMILAR_UNAVAILABLE = (
    "Похожие статьи здесь не найти: на этом сервере нет модели, которая сравнивает статьи "
    "по смыслу. Попробуйте поиск: /search"
)
SIMILAR_NONE = "Похожих статей пока нет: в каталоге мало статей с таким описанием."


_MAX_SIMILAR_TITLE = 100


def similar_header(title: str) -> str:
    """The first line of «Похожие»: the papers nearest to the one with this title."""
    if len(title) > _MAX_SIMILAR_TITLE:
        title = title[: _MAX_SIMILAR_TITLE - 1].rstrip() + "…"
    return f"🔎 <b>Похожие на «{escape(title)}»</b>"


# --- /channels: running a group or channel from a private chat ---------------------------------

# A chat type's forms: (header, "к ...", "... управление ...", button mark).
_CHAT_FORMS: dict[str, tuple[str, str, str, str]] = {
    "channel": ("Канал", "каналу", "каналом", "📢"),
    "group": ("Группа", "группе", "группой", "👥"),
    "supergroup": ("Группа", "группе", "группой", "👥"),
}


def _forms(chat_type: str) -> tuple[str, str, str, str]:
    return _CHAT_FORMS.get(chat_type, _CHAT_FORMS["group"])


def chat_title(title: str | None, chat_id: int) -> str:
    """A group's or channel's name as shown to its admin; plain text, not yet escaped."""
    return title or f"чат {chat_id}"


def managing_header(chat_type: str, title: str) -> str:
    """The first line of every reply while a private chat runs a group or channel."""
    return f"⚙️ {_forms(chat_type)[0]} «{escape(title)}»:"


def channel_button(chat_type: str, title: str) -> str:
    """A /channels button: the chat's kind as an emoji and its name."""
    return f"{_forms(chat_type)[3]} {title}"


CHANNELS_BACK_BUTTON = "↩️ Вернуться к личному чату"
CHANNELS_PRIVATE_ONLY = (
    "Команда /channels работает в личном чате со мной: там можно настроить канал или группу, "
    "ничего не публикуя в них."
)
CHANNELS_NONE = (
    "Я не нашёл каналов и групп, где вы администратор и где есть я.\n\n"
    "Добавьте меня в канал администратором с правом публиковать сообщения (или в группу) "
    "и снова откройте /channels."
)
MANAGING_STOPPED = "↩️ Команды снова относятся к вашему личному чату."
MANAGING_STOPPED_SHORT = "Команды снова относятся к личному чату."
CHANNEL_NOT_YOURS = "Вы не администратор этого чата, или меня в нём уже нет. Ничего не изменилось."
CHANNEL_BUTTON_EXPIRED = "Эта кнопка устарела. Откройте список заново: /channels"
DIGEST_PUBLISHED = "Дайджест опубликован."


def channels_list(current: tuple[str, str] | None) -> str:
    """/channels: what choosing a chat does; ``current`` is the (type, title) being run."""
    text = (
        "Выберите канал или группу, где вы администратор. Команды настроек — /subscribe, "
        "/follow, /mute, /time, /timezone, /format, /pause, /mytags и другие — будут относиться "
        "к выбранному чату, пока вы не вернётесь к личному. В сам канал я публикую только "
        "дайджесты."
    )
    if current is not None:
        chat_type, title = current
        text += f"\n\nСейчас вы управляете: {_forms(chat_type)[2]} «{escape(title)}»."
    return text


def managing_started(chat_type: str, title: str) -> str:
    """After choosing a chat in /channels."""
    return (
        f"⚙️ Теперь команды настроек относятся к {_forms(chat_type)[1]} «{escape(title)}». "
        "Например: <code>/subscribe mllm</code>, /mytags, <code>/time 09:00</code>.\n\n"
        "Вернуться к личному чату — кнопкой ниже или в /channels."
    )


def managing_lost(chat_type: str, title: str) -> str:
    """The chat being run is out of reach: the user is no longer its admin, or the bot left."""
    return (
        f"⚠️ Управление {_forms(chat_type)[2]} «{escape(title)}» прекращено: вы больше не его "
        "администратор, или меня там нет. Команды снова относятся к вашему личному чату. "
        "Выбрать другой чат — /channels"
    )


def added_to_channel(title: str) -> str:
    """Told privately to whoever added the bot to a channel: the channel itself gets nothing."""
    return (
        f"👋 Меня добавили в канал «{escape(title)}». {_ABOUT}\n\n"
        "Настроить его можно прямо здесь, ничего не публикуя в канале: откройте /channels "
        "и выберите канал."
    )
