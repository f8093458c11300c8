"""Russian title and summary of a paper through an OpenAI-compatible chat API, with a fallback.

The model's answer is never trusted as-is: JSON is dug out of fences and prose, markup is
stripped and HTML entities decoded (the stored text is plain; escaping belongs to rendering),
an English answer is rejected, an overlong one is cut at a sentence end, and tags outside the
taxonomy are dropped.  When the LLM is not configured or keeps failing, the paper gets a
fallback summary: its English title and the opening sentences of its abstract.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import functools
import html
import json
import logging
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from content.models import Paper, SummaryStatus
from content.taxonomy import TAG_IDS, TAGS

log = logging.getLogger("content.summarize")

SUMMARY_MAX_CHARS: Final[int] = 350
TITLE_MAX_CHARS: Final[int] = 200
MAX_TAGS: Final[int] = 5
TEMPERATURE: Final[float] = 0.2
ABSTRACT_MAX_CHARS: Final[int] = 6000
"""Longer abstracts are cut before prompting: the opening is what a 350-char summary needs."""

MAX_BACKOFF: Final[float] = 60.0
_LOG_BODY_CHARS: Final[int] = 300
_ELLIPSIS: Final[str] = "…"


# --------------------------------------------------------------------------------------------
# Public data
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to reach an OpenAI-compatible chat completions API."""

    base_url: str  # e.g. "https://api.openai.com/v1"; "/chat/completions" is appended
    api_key: str | None = field(repr=False)  # repr=False: a logged config never shows it
    model: str
    concurrency: int = 4
    timeout: float = 60
    max_attempts: int = 4
    retry_wait: float = 1.0  # base seconds of the exponential backoff between attempts
    retry_after_cap: float = 60.0  # a server's Retry-After is honoured up to this many seconds

    def __post_init__(self) -> None:
        """Reject settings that would hang or never call the API."""
        if self.concurrency < 1:
            raise ValueError("LLMConfig.concurrency must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("LLMConfig.max_attempts must be at least 1")
        if self.timeout <= 0:
            raise ValueError("LLMConfig.timeout must be positive")
        if self.retry_wait < 0 or self.retry_after_cap < 0:
            raise ValueError("LLMConfig retry waits must not be negative")


@dataclass(frozen=True)
class Summary:
    """A paper's Russian title, summary and LLM-chosen tags, plain text (not HTML-escaped)."""

    title_ru: str
    summary_ru: str
    tags: tuple[str, ...]
    status: SummaryStatus
    prompt_tokens: int = 0  # tokens spent on this paper, over all attempts
    completion_tokens: int = 0


# --------------------------------------------------------------------------------------------
# Text helpers
# --------------------------------------------------------------------------------------------

_THINK_RE: Final = re.compile(r"<think>.*?(?:</think>|$)", re.IGNORECASE | re.DOTALL)
_SCRIPT_RE: Final = re.compile(
    r"<\s*(script|style)\b[^>]*>.*?(?:<\s*/\s*\1\s*>|$)", re.IGNORECASE | re.DOTALL
)
_COMMENT_RE: Final = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
# A tag name right after "<" or "</": "k < 5" and "x<5" are text, not tags.
_TAG_RE: Final = re.compile(r"</?([A-Za-z][A-Za-z0-9:-]*)(?:\s[^<>]*)?/?>")
_BLOCK_TAGS: Final = frozenset(
    {"br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "table", "hr", "blockquote", "pre"}
    | {f"h{level}" for level in range(1, 7)}
)
_MD_LINK_RE: Final = re.compile(r"\[([^\[\]]+)\]\((?:https?://|www\.)[^)\s]*\)")
_MD_MARKERS_RE: Final = re.compile(r"\*\*|__|~~|`")
_MD_EMPHASIS_RE: Final = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_MD_LINE_START_RE: Final = re.compile(r"^[ \t]*(?:#{1,6}|[-*•+]|>)[ \t]+", re.MULTILINE)
_WHITESPACE_RE: Final = re.compile(r"\s+")


def _strip_tag(match: re.Match[str]) -> str:
    # Block tags separate words ("a<br>b" is two words); inline ones do not ("<b>Hi</b>win").
    return " " if match.group(1).lower() in _BLOCK_TAGS else ""


def _strip_control(text: str) -> str:
    # Control characters become spaces; zero-width and other format characters vanish.
    return "".join(
        " " if char < " " or "\x7f" <= char <= "\x9f" else char
        for char in text
        if char not in "\u200b\u200c\u200d\u2060\ufeff\u00ad"
    )


def clean_text(text: str) -> str:
    """Turn an LLM's string into plain text: no HTML, markdown or entities; whitespace collapsed."""
    # Entities first (repeatedly: models sometimes double-escape), so an escaped
    # "&lt;script&gt;" is removed like a real one and "&amp;amp;" ends as a single "&".
    for _ in range(3):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    text = _THINK_RE.sub(" ", text)
    text = _SCRIPT_RE.sub(" ", text)
    text = _COMMENT_RE.sub(" ", text)
    text = _TAG_RE.sub(_strip_tag, text)
    text = _MD_LINK_RE.sub(r"\1", text)
    text = _MD_LINE_START_RE.sub("", text)
    text = _MD_MARKERS_RE.sub("", text)
    text = _MD_EMPHASIS_RE.sub(r"\1", text)
    text = _strip_control(text)
    return _WHITESPACE_RE.sub(" ", text).strip()


_WORD_RE: Final = re.compile(r"[^\W_]+")


def _is_cyrillic(char: str) -> bool:
    return "\u0400" <= char <= "\u052f"


def is_mostly_cyrillic(text: str, threshold: float = 0.5) -> bool:
    """Tell whether at least `threshold` of the letters are Cyrillic, Latin terms not counted.

    Latin words that look like terms (with a digit or an inner capital: MLLM, LoRA, ViT, v2,
    DocVQA) are left out, so a Russian summary dense with names passes while English prose fails.
    """
    cyrillic = other = 0
    for word in _WORD_RE.findall(text):
        is_term = any(char.isdigit() for char in word) or any(char.isupper() for char in word[1:])
        for char in word:
            if not char.isalpha():
                continue
            if _is_cyrillic(char):
                cyrillic += 1
            elif not is_term:
                other += 1
    total = cyrillic + other
    return total > 0 and cyrillic / total >= threshold


_SENTENCE_PUNCT: Final = ".!?…"
_CLOSERS: Final = "\"'»”’)]"
_OPENERS: Final = "\"'«“‘(["
# Words that end with a period without ending the sentence ("e.g.", "et al.", "Fig. 3").
_ABBREVIATIONS: Final = frozenset(
    {
        "al",
        "approx",
        "ca",
        "cf",
        "co",
        "corp",
        "dr",
        "eq",
        "eqs",
        "esp",
        "est",
        "fig",
        "figs",
        "inc",
        "incl",
        "jr",
        "ltd",
        "mr",
        "mrs",
        "ms",
        "no",
        "nos",
        "pp",
        "prof",
        "ref",
        "refs",
        "resp",
        "sec",
        "sect",
        "sr",
        "st",
        "tab",
        "viz",
        "vol",
        "vs",
        "wrt",
        # Russian: "и др.", "см. рис. 2", "напр.", "тыс."
        "гл",
        "др",
        "напр",
        "рис",
        "см",
        "стр",
        "табл",
        "тыс",
    }
)
_DOTTED_ABBREVIATION_RE: Final = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")  # e.g, i.e, U.S
_LAST_WORD_RE: Final = re.compile(r"[^\s(\[«\"“]+$")


def _ends_with_abbreviation(head: str) -> bool:
    """Tell whether the text before a period ends with an abbreviation or an initial."""
    match = _LAST_WORD_RE.search(head.rstrip("."))
    if match is None:
        return False
    word = match.group(0)
    # A single letter is an initial ("J. Smith") or a Russian abbreviation ("т. е.", "т. д.").
    if len(word) == 1 and word.isalpha():
        return True
    return word.lower() in _ABBREVIATIONS or bool(_DOTTED_ABBREVIATION_RE.fullmatch(word))


def _sentence_ends(text: str) -> list[int]:
    """Indices just past each sentence end (punctuation plus closing quotes/brackets)."""
    ends: list[int] = []
    length = len(text)
    for index, char in enumerate(text):
        if char not in _SENTENCE_PUNCT or index == 0:
            continue
        end = index + 1
        while end < length and text[end] in _CLOSERS:
            end += 1
        if end < length and text[end] in _SENTENCE_PUNCT:
            continue  # "..." or "?!": the last mark of the run decides
        if end == length:
            ends.append(end)
            continue
        following = text[end]
        if following.isspace():
            rest = text[end:].lstrip()
            if not rest:
                ends.append(end)
                continue
            nxt = rest[0]
            # A new sentence starts with a capital or an opening quote/bracket, never with a
            # lowercase word ("e.g. images") or a digit ("Fig. 3", "approx. 5").
            if not (nxt.isupper() or nxt in _OPENERS):
                continue
        else:
            # No space after the mark: only "training.We" (lowercase, then a capitalised word)
            # counts; "3.7%", "v2.5", "e.g.VQA", "U.S.A" and "Node.JS" do not.
            after = text[end + 1] if end + 1 < length else ""
            previous = text[index - 1]
            if not (
                following.isupper()
                and after.islower()
                and (previous.islower() or previous.isdigit() or previous in "%)]")
            ):
                continue
        if char == "." and _ends_with_abbreviation(text[:index]):
            continue
        ends.append(end)
    return ends


_TRAILING_JUNK: Final = " \t,;:—–-(«\"“'‘/"


def _cut_at_word(text: str, limit: int) -> str:
    """Cut at the last word boundary that leaves room for "…"; hard cut only for one huge word."""
    if limit <= 1:
        return _ELLIPSIS if limit == 1 else ""
    room = limit - len(_ELLIPSIS)
    head = text[:room]
    if not text[room].isspace():
        boundary = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        if boundary > 0:
            head = head[:boundary]
    head = head.rstrip(_TRAILING_JUNK)
    if not head:
        head = text[:room].rstrip()
    return head + _ELLIPSIS


def cut_at_sentence(text: str, limit: int) -> str:
    """Shorten text to at most `limit` chars at a sentence end, else at a word end plus "…"."""
    text = text.strip()
    if len(text) <= limit:
        return text
    best = 0
    for end in _sentence_ends(text):
        if end > limit:
            break
        best = end
    if best:
        return text[:best].rstrip()
    return _cut_at_word(text, limit)


# "training.We" in abstracts: arXiv line joins sometimes lose the space after a period.
_MISSING_SPACE_RE: Final = re.compile(r"(?<=[a-z]{2})([.!?])(?=[A-Z][a-z])")


def _add_missing_spaces(text: str) -> str:
    """Put a space into "training.We", leaving URLs and file names alone."""
    return " ".join(
        word if "://" in word or word.startswith("www.") else _MISSING_SPACE_RE.sub(r"\1 ", word)
        for word in text.split()
    )


def fallback_summary(paper: Paper) -> Summary:
    """Summary without an LLM: the English title and the abstract's opening sentences."""
    title = _WHITESPACE_RE.sub(" ", paper.title).strip()
    abstract = _add_missing_spaces(paper.abstract)
    return Summary(
        title_ru=cut_at_sentence(title, TITLE_MAX_CHARS),
        summary_ru=cut_at_sentence(abstract, SUMMARY_MAX_CHARS),
        tags=(),
        status=SummaryStatus.FALLBACK,
    )


# --------------------------------------------------------------------------------------------
# Prompt
# --------------------------------------------------------------------------------------------

_SYSTEM_PROMPT_HEAD: Final = """\
Ты редактор русскоязычного Telegram-дайджеста свежих статей по машинному обучению и ИИ. \
По английскому названию и аннотации статьи подготовь для читателя короткую карточку.

Ответь одним JSON-объектом, без пояснений и без markdown:
{"title_ru": "...", "summary_ru": "...", "tags": ["...", "..."]}

title_ru — естественное русское название статьи, не длиннее 200 символов. Названия моделей, \
методов и датасетов и устоявшиеся термины (MLLM, MoE, LoRA, ViT, RLHF и т. п.) оставляй \
латиницей: не переводи и не транслитерируй.

summary_ru — 2–3 предложения, не длиннее 350 символов, простым текстом: что предложено и \
главный результат, с цифрами, если они есть в аннотации. Сразу к сути: без «В статье…», \
«Авторы…», «Исследователи…», «Данная работа…». Без markdown, HTML, эмодзи и ссылок.

tags — от 2 до 5 идентификаторов тем, которые подходят статье, только из списка ниже и точно \
так, как они написаны.

Пример ответа:
{"title_ru": "LLaVA-UHD v2: пирамида признаков высокого разрешения для MLLM", \
"summary_ru": "Иерархический оконный трансформер Hiwin строит обратную пирамиду признаков ViT \
и сжимает её окнами разных масштабов. Это даёт +3,7% в среднем по 14 бенчмаркам и +9,3% \
на DocVQA.", "tags": ["mllm", "cv", "benchmark"]}

Темы (идентификатор — название):
"""


@functools.cache
def system_prompt() -> str:
    """The Russian system prompt with the allowed tags; the same for every paper (cacheable)."""
    tag_lines = "\n".join(f"{tag.id} — {tag.name_ru}" for tag in TAGS)
    return _SYSTEM_PROMPT_HEAD + tag_lines


def user_prompt(paper: Paper) -> str:
    """The user message: the paper's English title and abstract."""
    abstract = paper.abstract
    if len(abstract) > ABSTRACT_MAX_CHARS:
        abstract = cut_at_sentence(abstract, ABSTRACT_MAX_CHARS)
    return f"Название: {paper.title}\nАннотация: {abstract}"


# --------------------------------------------------------------------------------------------
# Answer validation
# --------------------------------------------------------------------------------------------


class _LLMError(Exception):
    """A failed attempt; `retryable` says whether another attempt may help."""

    def __init__(self, reason: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retryable = retryable
        self.retry_after = retry_after


def _bad_answer(reason: str) -> _LLMError:
    # A misbehaving answer is retried: sampling may well produce a good one next time.
    return _LLMError(f"bad answer: {reason}", retryable=True)


_FENCE_RE: Final = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)


def _extract_json(content: str) -> dict[str, Any]:
    """Find the answer object in content: bare JSON, a fenced block or JSON amid prose."""
    content = _THINK_RE.sub("", content).strip()
    candidates = [content, *(match.group(1).strip() for match in _FENCE_RE.finditer(content))]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    # Prose around the object: try every "{" and prefer an object with our keys.
    decoder = json.JSONDecoder()
    found: dict[str, Any] | None = None
    for match in re.finditer(r"\{", content):
        try:
            value, _ = decoder.raw_decode(content, match.start())
        except ValueError:
            continue
        if isinstance(value, dict):
            if "summary_ru" in value or "title_ru" in value:
                return value
            found = found or value
    if found is None:
        raise _bad_answer("no JSON object")
    return found


def _text_field(answer: dict[str, Any], key: str) -> str:
    value = answer.get(key)
    # Some models split the summary into a list of sentences.
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        value = " ".join(value)
    if not isinstance(value, str):
        raise _bad_answer(f"{key} is missing or not a string")
    cleaned = clean_text(value)
    if not cleaned:
        raise _bad_answer(f"{key} is empty")
    return cleaned


def normalize_tags(raw: object) -> tuple[str, ...]:
    """Keep the taxonomy ids among an LLM's tags: case-insensitive, "#" stripped, deduplicated."""
    if isinstance(raw, str):
        items: list[object] = list(re.split(r"[\s,;]+", raw))
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        return ()
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            continue
        tag_id = item.strip().lstrip("#").strip().lower()
        if tag_id in TAG_IDS and tag_id not in tags:
            tags.append(tag_id)
    return tuple(tags[:MAX_TAGS])


def parse_answer(content: str) -> Summary:
    """Validate and repair an LLM answer into a DONE Summary; raise ValueError if unusable."""
    try:
        return _parse_answer(content)
    except _LLMError as error:
        raise ValueError(str(error)) from None


def _parse_answer(content: str) -> Summary:
    answer = _extract_json(content)
    title = _text_field(answer, "title_ru")
    summary = _text_field(answer, "summary_ru")
    if not is_mostly_cyrillic(summary):
        raise _bad_answer("summary_ru is not in Russian")
    return Summary(
        title_ru=cut_at_sentence(title, TITLE_MAX_CHARS),
        summary_ru=cut_at_sentence(summary, SUMMARY_MAX_CHARS),
        tags=normalize_tags(answer.get("tags")),
        status=SummaryStatus.DONE,
    )


def _message_content(body: Any) -> str:
    """choices[0].message.content of a chat completion, as text."""
    if not isinstance(body, dict):
        raise _bad_answer("response is not a JSON object")
    if "error" in body:
        # Some gateways (OpenRouter) report upstream failures with a 200 status.
        raise _LLMError(
            f"error in a 200 response: {body['error']!r:.{_LOG_BODY_CHARS}}", retryable=True
        )
    try:
        message = body["choices"][0]["message"]
        content = message.get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise _bad_answer("no choices[0].message") from None
    if isinstance(content, list):  # content parts: [{"type": "text", "text": "..."}]
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str) or not content.strip():
        raise _bad_answer("empty message content")
    return content


def _usage(body: Any) -> tuple[int, int]:
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return 0, 0

    def count(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) and value >= 0 else 0

    return count("prompt_tokens"), count("completion_tokens")


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return max(seconds, 0.0)


# --------------------------------------------------------------------------------------------
# Summarizer
# --------------------------------------------------------------------------------------------


@dataclass
class _PaperUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, _LLMError) and error.retryable


class Summarizer:
    """Summarises papers in Russian through an OpenAI-compatible API; never raises on LLM faults.

    `calls`, `prompt_tokens` and `completion_tokens` are running totals over all requests
    (rejected answers included: they were paid for), `fallbacks` counts fallback summaries.
    """

    def __init__(self, client: httpx.AsyncClient, config: LLMConfig | None) -> None:
        self._client = client
        self._config = config
        self._semaphore = asyncio.Semaphore(config.concurrency if config else 1)
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.fallbacks = 0
        retry_wait = config.retry_wait if config else 0.0
        # Jitter keeps papers that failed together (a 429 burst) from retrying in step.
        self._backoff = wait_exponential(multiplier=retry_wait, max=MAX_BACKOFF) + wait_random(
            0, retry_wait
        )
        self._retry_after_cap = config.retry_after_cap if config else 0.0

    @property
    def config(self) -> LLMConfig | None:
        """The LLM settings, or None when summaries are fallbacks only."""
        return self._config

    async def summarize_many(self, papers: Iterable[Paper]) -> list[Summary]:
        """Summarise papers concurrently (at most `concurrency` requests at once), in order."""
        return list(await asyncio.gather(*(self.summarize(paper) for paper in papers)))

    async def summarize(self, paper: Paper) -> Summary:
        """Summarise one paper; a fallback summary when the LLM is off or keeps failing."""
        config = self._config
        if config is None:
            self.fallbacks += 1
            return fallback_summary(paper)
        usage = _PaperUsage()
        retrying = AsyncRetrying(
            stop=stop_after_attempt(config.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_is_retryable),
            before_sleep=functools.partial(self._log_retry, paper),
            reraise=True,
        )
        try:
            summary: Summary = await retrying(self._attempt, config, paper, usage)
        except _LLMError as error:
            log.warning("summary of %s falls back: %s", paper.id, error)
        except Exception:
            # One unexpected failure must not sink a whole ingest run.
            log.exception("summary of %s falls back after an unexpected error", paper.id)
        else:
            return dataclasses.replace(
                summary,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
            )
        self.fallbacks += 1
        return dataclasses.replace(
            fallback_summary(paper),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff, or the server's Retry-After (capped) when it asks for longer."""
        wait = self._backoff(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _LLMError) and error.retry_after is not None:
            wait = max(wait, min(error.retry_after, self._retry_after_cap))
        return wait

    def _log_retry(self, paper: Paper, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info(
            "summary of %s: attempt %d failed (%s), retrying in %.2fs",
            paper.id,
            state.attempt_number,
            error,
            wait,
        )

    def _redact(self, text: str) -> str:
        # Error bodies may echo the key back ("Incorrect API key provided: sk-...").
        key = self._config.api_key if self._config else None
        return text.replace(key, "***") if key else text

    async def _attempt(self, config: LLMConfig, paper: Paper, usage: _PaperUsage) -> Summary:
        """One request and the validation of its answer."""
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        payload = {
            "model": config.model,
            "temperature": TEMPERATURE,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": system_prompt()},
                {"role": "user", "content": user_prompt(paper)},
            ],
        }
        url = config.base_url.rstrip("/") + "/chat/completions"
        async with self._semaphore:
            self.calls += 1
            started = time.monotonic()
            try:
                # httpx bounds each phase; asyncio.timeout bounds the whole exchange, so a
                # server that trickles bytes cannot hold a slot forever.
                async with asyncio.timeout(config.timeout):
                    response = await self._client.post(
                        url, json=payload, headers=headers, timeout=config.timeout
                    )
            except (TimeoutError, httpx.TimeoutException):
                raise _LLMError(f"timed out after {config.timeout}s", retryable=True) from None
            except httpx.TransportError as error:
                raise _LLMError(
                    f"transport error: {type(error).__name__}: {self._redact(str(error))}",
                    retryable=True,
                ) from None
            elapsed = time.monotonic() - started

        status = response.status_code
        if status != httpx.codes.OK:
            reason = f"HTTP {status}: {self._redact(response.text[:_LOG_BODY_CHARS])}"
            if status == httpx.codes.TOO_MANY_REQUESTS:
                retry_after = _parse_retry_after(response.headers.get("retry-after"))
                raise _LLMError(reason, retryable=True, retry_after=retry_after)
            raise _LLMError(reason, retryable=status >= 500)

        try:
            body = response.json()
        except ValueError:
            raise _bad_answer("response body is not JSON") from None
        prompt_tokens, completion_tokens = _usage(body)
        usage.prompt_tokens += prompt_tokens
        usage.completion_tokens += completion_tokens
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        log.info(
            "LLM call for %s: model=%s prompt_tokens=%d completion_tokens=%d in %.2fs",
            paper.id,
            config.model,
            prompt_tokens,
            completion_tokens,
            elapsed,
        )
        return _parse_answer(_message_content(body))
