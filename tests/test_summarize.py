"""Russian summaries through an OpenAI-compatible LLM: validation, repair, retries, fallback.

The LLM is ``FakeLLM``, a real HTTP server on 127.0.0.1; nothing here touches the network.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from content.models import Paper, Source, SummaryStatus
from content.summarize import (
    SUMMARY_MAX_CHARS,
    TITLE_MAX_CHARS,
    LLMConfig,
    Summarizer,
    Summary,
    clean_text,
    cut_at_sentence,
    fallback_summary,
    is_mostly_cyrillic,
    parse_answer,
)
from content.taxonomy import TAG_IDS
from tests.fake_llm import TAG_RULES, FakeLLM, count_tokens

API_KEY = "sk-test-7f3a9c1e5b2d"

AWAKER_TITLE = "Awaker2.5-VL: Stably Scaling MLLMs with Parameter-Efficient Mixture of Experts"
AWAKER_ABSTRACT = (
    "As the research of Multimodal Large Language Models (MLLMs) becomes popular, an advancing "
    "MLLM model is typically required to handle various textual and visual tasks (e.g., VQA, "
    "Detection, OCR, and ChartQA) simultaneously for real-world applications. However, due to "
    "the significant differences in representation and distribution among data from various "
    "tasks, simply mixing data of all tasks together leads to the well-known multi-task "
    "conflict issue, resulting in performance degradation across various tasks. To address "
    "this issue, we propose Awaker2.5-VL, a Mixture of Experts (MoE) architecture suitable for "
    "MLLM, which acquires the multi-task capabilities through multiple sparsely activated "
    "experts."
)

RUSSIAN_SUMMARY = (
    "Awaker2.5-VL — MLLM на основе MoE, где каждый эксперт устроен как LoRA-адаптер. "
    "Это снимает конфликт задач при обучении на разнородных данных: +3,7% в среднем "
    "по 14 бенчмаркам."
)


def make_paper(index: int = 0, title: str = AWAKER_TITLE, abstract: str = AWAKER_ABSTRACT) -> Paper:
    return Paper(
        id=f"2411.{10669 + index}",
        title=title,
        abstract=abstract,
        listed_on=dt.date(2024, 11, 19),
        source=Source.HF,
        url=f"https://huggingface.co/papers/2411.{10669 + index}",
    )


def answer(**fields: Any) -> str:
    """Message content with a valid answer, fields overridden."""
    body: dict[str, Any] = {
        "title_ru": "Awaker2.5-VL: MLLM без конфликта задач",
        "summary_ru": RUSSIAN_SUMMARY,
        "tags": ["mllm", "moe"],
    }
    body.update(fields)
    return json.dumps(body, ensure_ascii=False)


@pytest.fixture
async def llm() -> AsyncIterator[FakeLLM]:
    async with FakeLLM() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def config_for(llm: FakeLLM, **overrides: Any) -> LLMConfig:
    settings: dict[str, Any] = {
        "base_url": llm.url,
        "api_key": API_KEY,
        "model": "test-model",
        "timeout": 5.0,
        "max_attempts": 3,
        "retry_wait": 0.0,
        "retry_after_cap": 5.0,
    }
    settings.update(overrides)
    return LLMConfig(**settings)


async def summarize(llm: FakeLLM, http: httpx.AsyncClient, **overrides: Any) -> Summary:
    return await Summarizer(http, config_for(llm, **overrides)).summarize(make_paper())


# --- the request ----------------------------------------------------------------------------


async def test_request_is_an_openai_chat_completion_with_russian_prompt_and_tag_list(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    await summarize(llm, http)

    [request] = llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.json["model"] == "test-model"
    assert request.json["temperature"] <= 0.3
    assert request.json["response_format"] == {"type": "json_object"}
    assert is_mostly_cyrillic(request.system_message)
    for tag_id in ("mllm", "moe", "long_context", "machine_translation"):
        assert tag_id in request.system_message
    assert "Мультимодальные LLM" in request.system_message
    assert AWAKER_TITLE in request.user_message
    assert AWAKER_ABSTRACT in request.user_message


async def test_no_authorization_header_without_an_api_key(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    summary = await summarize(llm, http, api_key=None)

    assert summary.status is SummaryStatus.DONE
    assert "Authorization" not in llm.requests[0].headers


# --- good answers ---------------------------------------------------------------------------


async def test_a_russian_answer_is_stored_as_is(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.respond_next(answer())

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    assert summary.title_ru == "Awaker2.5-VL: MLLM без конфликта задач"
    assert summary.summary_ru == RUSSIAN_SUMMARY
    assert summary.tags == ("mllm", "moe")
    assert llm.calls == 1


async def test_the_fake_default_answer_is_a_valid_summary_of_the_paper(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    assert summary.title_ru == f"Обзор: {AWAKER_TITLE}"
    assert "Awaker2.5-VL" in summary.summary_ru
    assert {"mllm", "moe"} <= set(summary.tags)


async def test_script_tags_and_html_entities_become_plain_text(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    llm.respond_next(
        answer(
            title_ru="LoRA &amp; MoE: <i>быстрее</i> и <b>точнее</b>",
            summary_ru=(
                "Модель <script>alert(1)</script>улучшает Q&A и R&amp;D на 5%. "
                "<b>Код</b> открыт &amp;amp; доступен&nbsp;всем.<style>p {color: red}</style>"
            ),
        )
    )

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    assert summary.title_ru == "LoRA & MoE: быстрее и точнее"
    assert summary.summary_ru == "Модель улучшает Q&A и R&D на 5%. Код открыт & доступен всем."


async def test_markdown_is_stripped(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.respond_next(
        answer(
            title_ru="## **Awaker2.5-VL**: MoE для `MLLM`",
            summary_ru="- **Главное:** эксперты __LoRA__ снимают конфликт.\n- Рост *на 3,7%*.",
        )
    )

    summary = await summarize(llm, http)

    assert summary.title_ru == "Awaker2.5-VL: MoE для MLLM"
    assert summary.summary_ru == "Главное: эксперты LoRA снимают конфликт. Рост на 3,7%."


async def test_a_long_summary_is_cut_at_a_sentence_end(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    sentence = "Модель MoE распределяет задачи между экспертами и улучшает точность на 3,7%. "
    long_summary = (sentence * 14).strip()
    assert len(long_summary) > 1000
    long_title = "Очень длинное название про " + "смесь экспертов " * 20
    llm.respond_next(answer(summary_ru=long_summary, title_ru=long_title))

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    assert len(summary.summary_ru) <= SUMMARY_MAX_CHARS
    assert summary.summary_ru.endswith("3,7%.")
    assert long_summary.startswith(summary.summary_ru)
    assert len(summary.title_ru) <= TITLE_MAX_CHARS
    # No sentence end in the title: cut between words, marked with an ellipsis.
    assert summary.title_ru.endswith("…")
    assert long_title.startswith(summary.title_ru.removesuffix("…") + " ")


async def test_json_in_code_fences_is_accepted(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.respond_next(f"Вот ответ:\n```json\n{answer()}\n```\nНадеюсь, это поможет!")

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    assert summary.summary_ru == RUSSIAN_SUMMARY
    assert llm.calls == 1


async def test_json_amid_prose_is_accepted(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.respond_next(f"<think>Пользователь просит {{кратко}}.</think>Конечно! {answer()} Готово.")

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    assert summary.summary_ru == RUSSIAN_SUMMARY


async def test_tags_outside_the_taxonomy_are_dropped(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.respond_next(answer(tags=["#MLLM", "quantum-magic", "MoE", " llm ", 42, "mllm", "#cv"]))

    summary = await summarize(llm, http)

    assert summary.tags == ("mllm", "moe", "llm", "cv")


async def test_at_most_five_tags_are_kept(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.respond_next(answer(tags=["mllm", "moe", "llm", "cv", "rl", "agents", "math"]))

    summary = await summarize(llm, http)

    assert summary.tags == ("mllm", "moe", "llm", "cv", "rl")


# --- bad answers: retried, then a fallback ---------------------------------------------------


async def test_a_non_json_answer_is_retried(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.respond_next("Извините, я не могу ответить в формате JSON.")

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    assert llm.calls == 2


async def test_persistent_non_json_falls_back(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.respond_next("Извините, я не могу ответить в формате JSON.", times=10)

    summary = await summarize(llm, http, max_attempts=3)

    assert summary.status is SummaryStatus.FALLBACK
    fallback = fallback_summary(make_paper())
    assert (summary.title_ru, summary.summary_ru, summary.tags) == (
        fallback.title_ru,
        fallback.summary_ru,
        (),
    )
    assert summary.prompt_tokens > 0  # the rejected answers were paid for
    assert llm.calls == 3


async def test_an_english_answer_falls_back(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    english = answer(
        title_ru="Awaker2.5-VL: Scaling MLLMs with Mixture of Experts",
        summary_ru="The model uses a mixture of experts to avoid conflicts between tasks.",
    )
    llm.respond_next(english, times=10)

    summary = await summarize(llm, http, max_attempts=2)

    assert summary.status is SummaryStatus.FALLBACK
    assert summary.title_ru == AWAKER_TITLE
    assert summary.tags == ()
    assert llm.calls == 2


@pytest.mark.parametrize(
    "content",
    [
        answer(summary_ru="<b></b> ** **"),
        answer(title_ru="   "),
        json.dumps({"title": "Без нужных ключей"}, ensure_ascii=False),
        "",
    ],
    ids=["summary-empty-after-cleaning", "title-blank", "wrong-keys", "empty-content"],
)
async def test_empty_or_missing_fields_fall_back(
    llm: FakeLLM, http: httpx.AsyncClient, content: str
) -> None:
    llm.respond_next(content, times=10)

    summary = await summarize(llm, http, max_attempts=2)

    assert summary.status is SummaryStatus.FALLBACK


# --- transport faults -----------------------------------------------------------------------


async def test_a_server_error_is_retried(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.fail_next(500)

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    assert llm.calls == 2


async def test_persistent_server_errors_fall_back_after_max_attempts(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    llm.fail_next(500, times=10)

    summary = await summarize(llm, http, max_attempts=3)

    assert summary.status is SummaryStatus.FALLBACK
    assert summary.title_ru == AWAKER_TITLE
    assert summary.summary_ru.startswith("As the research of Multimodal Large Language Models")
    assert llm.calls == 3


async def test_a_timeout_is_retried(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.delay_next(2.0)

    summary = await summarize(llm, http, timeout=0.2)

    assert summary.status is SummaryStatus.DONE
    assert llm.calls == 2


async def test_persistent_timeouts_fall_back(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.delay_next(2.0, times=2)
    started = time.monotonic()

    summary = await summarize(llm, http, timeout=0.2, max_attempts=2)

    assert summary.status is SummaryStatus.FALLBACK
    assert llm.calls == 2
    assert time.monotonic() - started < 1.5


async def test_an_unreachable_server_falls_back(http: httpx.AsyncClient) -> None:
    async with FakeLLM() as gone:
        url = gone.url
    config = LLMConfig(base_url=url, api_key=API_KEY, model="m", max_attempts=2, retry_wait=0)

    summary = await Summarizer(http, config).summarize(make_paper())

    assert summary.status is SummaryStatus.FALLBACK


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(
    llm: FakeLLM, http: httpx.AsyncClient, status: int
) -> None:
    llm.fail_next(status, times=10)

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.FALLBACK
    assert llm.calls == 1


async def test_429_waits_for_retry_after(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.fail_next(429, retry_after=0.3)

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    first, second = llm.requests
    assert second.received_at - first.received_at >= 0.3


async def test_429_retry_after_is_capped(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.fail_next(429, retry_after=3600)

    summary = await summarize(llm, http, retry_after_cap=0.1)

    assert summary.status is SummaryStatus.DONE
    first, second = llm.requests
    assert 0.1 <= second.received_at - first.received_at < 2


async def test_429_retry_after_may_be_an_http_date(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10)
    llm.fail_next(429, retry_after=email.utils.format_datetime(past, usegmt=True))

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    assert llm.calls == 2


async def test_an_error_object_in_a_200_response_is_retried(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    # OpenRouter reports some upstream failures this way.
    llm.fail_next(200, body={"error": {"message": "upstream overloaded", "code": 502}})

    summary = await summarize(llm, http)

    assert summary.status is SummaryStatus.DONE
    assert llm.calls == 2


async def test_429_without_retry_after_uses_backoff(llm: FakeLLM, http: httpx.AsyncClient) -> None:
    llm.fail_next(429, times=2)

    summary = await summarize(llm, http, max_attempts=3)

    assert summary.status is SummaryStatus.DONE
    assert llm.calls == 3


# --- no LLM, concurrency, logging and usage -------------------------------------------------


async def test_without_config_every_summary_is_a_fallback_and_nothing_is_called(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    summarizer = Summarizer(http, None)

    summaries = await summarizer.summarize_many([make_paper(0), make_paper(1)])

    assert [summary.status for summary in summaries] == [SummaryStatus.FALLBACK] * 2
    assert summaries[0] == fallback_summary(make_paper(0))
    assert llm.calls == 0
    assert summarizer.calls == 0


async def test_summarize_many_never_exceeds_the_concurrency_cap(
    llm: FakeLLM, http: httpx.AsyncClient
) -> None:
    llm.latency = 0.05
    papers = [make_paper(index, title=f"Paper {index}: multimodal study") for index in range(12)]

    summaries = await Summarizer(http, config_for(llm, concurrency=3)).summarize_many(papers)

    assert llm.max_in_flight == 3
    assert [summary.title_ru for summary in summaries] == [
        f"Обзор: Paper {index}: multimodal study" for index in range(12)
    ]


async def test_the_api_key_never_reaches_the_logs(
    llm: FakeLLM, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = config_for(llm)
    summarizer = Summarizer(http, config)
    # Providers echo a rejected key back in the error body.
    llm.fail_next(401, body={"error": {"message": f"Incorrect API key provided: {API_KEY}"}})
    llm.fail_next(500, body=f"upstream failed for key {API_KEY}")
    llm.respond_next("not json")

    await summarizer.summarize(make_paper(0))
    await summarizer.summarize(make_paper(1))

    assert caplog.records, "the summarizer should log what happened"
    assert "Incorrect API key provided: ***" in caplog.text
    assert API_KEY not in caplog.text
    assert all(API_KEY not in record.getMessage() for record in caplog.records)
    assert API_KEY not in repr(config)


async def test_token_usage_is_logged_and_totalled(
    llm: FakeLLM, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="content.summarize")
    summarizer = Summarizer(http, config_for(llm))
    llm.respond_next("not json")  # a rejected answer is paid for too

    summaries = await summarizer.summarize_many([make_paper(0), make_paper(1)])

    def prompt_tokens(index: int) -> int:
        return sum(
            count_tokens(message["content"]) for message in llm.requests[index].json["messages"]
        )

    assert summarizer.calls == 3
    assert summarizer.prompt_tokens == sum(prompt_tokens(index) for index in range(3))
    assert summarizer.prompt_tokens == sum(summary.prompt_tokens for summary in summaries)
    assert summarizer.completion_tokens == sum(summary.completion_tokens for summary in summaries)
    assert summarizer.completion_tokens > 0
    usage_lines = [r for r in caplog.records if "prompt_tokens=" in r.getMessage()]
    assert len(usage_lines) == 3
    assert all(record.name == "content.summarize" for record in usage_lines)


# --- fallback and text helpers --------------------------------------------------------------


def test_fallback_is_the_english_title_and_the_abstract_opening() -> None:
    abstract = (
        "We propose a recipe for instruction training.We show that it improves accuracy by "
        "3.7% over strong baselines, e.g. LoRA and full fine-tuning, as noted by Smith et al. "
        "in prior work. " + "Further experiments confirm the result on many datasets. " * 10
    )

    summary = fallback_summary(make_paper(abstract=abstract))

    assert summary.status is SummaryStatus.FALLBACK
    assert summary.title_ru == AWAKER_TITLE
    assert summary.tags == ()
    assert summary.summary_ru.startswith(
        "We propose a recipe for instruction training. We show that it improves accuracy by 3.7%"
    )
    assert len(summary.summary_ru) <= SUMMARY_MAX_CHARS
    assert summary.summary_ru.endswith("datasets.")


def test_cut_at_sentence_handles_a_missing_space_after_the_period() -> None:
    text = "We propose a new recipe for training.We show that it beats every baseline we tried."

    assert cut_at_sentence(text, 60) == "We propose a new recipe for training."


def test_cut_at_sentence_does_not_end_a_sentence_at_eg() -> None:
    text = "We evaluate many tasks, e.g. VQA, OCR and charts, on twelve public benchmarks."

    cut = cut_at_sentence(text, 50)

    assert cut == "We evaluate many tasks, e.g. VQA, OCR and charts…"


def test_cut_at_sentence_does_not_end_a_sentence_inside_a_decimal() -> None:
    text = "Accuracy rises by 3.7% on DocVQA and by 9.3% on ChartQA. Code is public."

    assert cut_at_sentence(text, 40) == "Accuracy rises by 3.7% on DocVQA and by…"
    assert cut_at_sentence(text, 60) == "Accuracy rises by 3.7% on DocVQA and by 9.3% on ChartQA."


def test_cut_at_sentence_does_not_end_a_sentence_at_et_al() -> None:
    text = "Following Smith et al. (2023), we scale MoE models. Results improve by 5 points."

    assert cut_at_sentence(text, 60) == "Following Smith et al. (2023), we scale MoE models."


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Короткий текст.", 350, "Короткий текст."),
        ("Первое предложение. Второе предложение длиннее.", 30, "Первое предложение."),
        ("Что нового? Многое! Остальное потом.", 20, "Что нового? Многое!"),
        ("Он сказал «хватит». Потом ушёл.", 25, "Он сказал «хватит»."),
        ("одно очень длинное предложение без точки", 20, "одно очень длинное…"),
        ("сверхдлинноеслово" * 3, 10, "сверхдлин…"),
    ],
)
def test_cut_at_sentence_examples(text: str, limit: int, expected: str) -> None:
    cut = cut_at_sentence(text, limit)

    assert cut == expected
    assert len(cut) <= limit


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ("Q&amp;A и R&D", "Q&A и R&D"),
        ("двойное &amp;amp; экранирование", "двойное & экранирование"),
        ("a<script>alert(1)</script>b", "a b"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;текст", "текст"),
        ("<b>жирный</b> и <a href='x'>ссылка</a>", "жирный и ссылка"),
        ("строка<br>строка", "строка строка"),
        ("если k < 5 и n > 3", "если k < 5 и n > 3"),
        ("**жирный** и __подчёркнутый__ и `код`", "жирный и подчёркнутый и код"),
        ("# Заголовок\n- пункт один\n- пункт два", "Заголовок пункт один пункт два"),
        ("[репозиторий](https://github.com/a/b) открыт", "репозиторий открыт"),
        ("теги #mllm и long_context остаются", "теги #mllm и long_context остаются"),
        ("  много \n\t пробелов\u200b  ", "много пробелов"),
    ],
)
def test_clean_text(raw: str, plain: str) -> None:
    assert clean_text(raw) == plain


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (RUSSIAN_SUMMARY, True),
        ("LLaVA-UHD v2 с трансформером Hiwin: +3,7% на MMBench, +9,3% на DocVQA.", True),
        ("The model uses a mixture of experts to avoid conflicts between tasks.", False),
        ("Модель uses a mixture of experts to avoid conflicts between tasks.", False),
        ("MLLM MoE LoRA", False),
        ("", False),
    ],
)
def test_is_mostly_cyrillic(text: str, expected: bool) -> None:
    assert is_mostly_cyrillic(text) is expected


def test_parse_answer_repairs_a_good_answer_and_rejects_a_bad_one() -> None:
    assert parse_answer(answer(tags=["#MoE"])).tags == ("moe",)
    with pytest.raises(ValueError, match="not in Russian"):
        parse_answer(answer(summary_ru="The model is fast and accurate on every benchmark."))


def test_fake_llm_only_suggests_tags_from_the_taxonomy() -> None:
    assert {tag for _, tag in TAG_RULES} <= TAG_IDS
