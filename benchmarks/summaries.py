"""Summary quality over a fixture day: what readers get once answers are repaired.

The day is the 225 papers of tests/fixtures/search_papers.json (real titles and abstract
openings).  Each goes through the real Summarizer, the official ``openai`` client and HTTP to a
fake LLM.  Its answers are produced, deterministically per paper (a hash of the id), from the
Russian title and summary an editor wrote for that paper in the fixture, wrapped in the shapes
real servers send:

* 50% bare JSON (OpenAI), 10% fenced in markdown (Ollama), 10% after a ``<think>`` block
  (vLLM with a DeepSeek-R1 distill), 5% amid prose (OpenRouter);
* 8% too long with the numbers last (method sentences first); asked again, half shorten and
  half stay too long;
* 6% with a number the abstract lacks added; asked again, half drop it and half keep it;
* 5% English (the abstract's first sentence), 3% empty (a reasoning model out of tokens),
  3% prose without JSON; asked again, all answer properly.

The editors knew the whole papers, so about a third of their summaries cite numbers that the
abstract openings lack; asked again, the fake drops the sentences that carry them, as a model
told which numbers are wrong would, keeping the rest when some is left.

Figures (one JSON line each): ``quality``, the share of stored summaries within 350 characters
with every number found in the title or abstract, with the shares within 350, with every number
found, done at once, re-asked, cut and fallen back (and why) as extra fields, beside the same
two shares for the first answers as the LLM sent them; then ``llm_calls_most_for_a_paper``
(with the mean).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import SHORT, emit  # noqa: E402
from content.models import Paper  # noqa: E402
from content.summarize import (  # noqa: E402
    SUMMARY_MAX_CHARS,
    LLMConfig,
    Summarizer,
    cut_at_sentence,
    unknown_numbers,
)
from tests.fake_llm import FakeLLM, RecordedRequest, paper_title  # noqa: E402
from tests.search_fixture import load_search_papers, search_paper  # noqa: E402

PADDING = (
    "Метод подробно описан: устройство модели, данные для обучения и протокол экспериментов, "
    "с аккуратным сравнением с сильными базовыми моделями на открытых бенчмарках. "
)
INVENTED = " Точность выросла на 17,3%."
# (share in percent, first answer's shape) in order; the rest are bare JSON.
SHAPES = (
    (10, "fenced"),
    (10, "think"),
    (5, "prose"),
    (8, "too_long"),
    (6, "invented"),
    (5, "english"),
    (3, "empty"),
    (3, "unusable"),
)


@dataclass(frozen=True)
class Editorial:
    """A fixture paper and the Russian card its editor wrote."""

    paper: Paper
    answer: dict[str, Any]


def load_day() -> list[Editorial]:
    papers = load_search_papers()[: 40 if SHORT else None]
    return [
        Editorial(
            search_paper(item),
            {"title_ru": item["title_ru"], "summary_ru": item["summary_ru"], "tags": item["tags"]},
        )
        for item in papers
    ]


def shape_of(paper_id: str) -> tuple[str, bool]:
    """The first answer's shape, and whether a re-ask fixes a fault it has (half the time)."""
    bucket = zlib.crc32(paper_id.encode()) % 100
    stubborn = zlib.crc32(paper_id[::-1].encode()) % 2 == 0
    for share, shape in SHAPES:
        if bucket < share:
            return shape, not stubborn
        bucket -= share
    return "json", True


def dumps(answer: dict[str, Any]) -> str:
    return json.dumps(answer, ensure_ascii=False)


class EditorLLM(FakeLLM):
    """Answers with the editors' cards in mixed shapes; see the module docstring."""

    def __init__(self, day: list[Editorial]) -> None:
        super().__init__()
        self.by_title = {" ".join(e.paper.title.split()): e for e in day}
        self.first_answers: dict[str, str] = {}

    def make_content(self, request: RecordedRequest) -> str:
        editorial = self.by_title[paper_title(request.user_message)]
        paper, answer = editorial.paper, editorial.answer
        shape, fixes = shape_of(paper.id)
        followup = request.followup
        if not followup and paper.id in self.first_answers:
            return dumps(answer)  # an empty answer asked for anew
        if followup:
            return self._second(answer, shape, fixes, followup, request)
        summary = answer["summary_ru"]
        content = {
            "json": dumps(answer),
            "fenced": f"```json\n{json.dumps(answer, ensure_ascii=False, indent=2)}\n```",
            "think": f"<think>\nThe result goes first. {paper.abstract[:300]}\n</think>\n\n"
            + dumps(answer),
            "prose": f"Вот карточка статьи:\n{dumps(answer)}\nНадеюсь, это поможет!",
            "too_long": dumps({**answer, "summary_ru": PADDING * 2 + summary}),
            "invented": dumps({**answer, "summary_ru": summary + INVENTED}),
            "english": dumps({**answer, "summary_ru": cut_at_sentence(paper.abstract, 300)}),
            "empty": "",
            "unusable": "Извините, я не могу ответить в формате JSON.",
        }[shape]
        self.first_answers[paper.id] = content
        return content

    def _second(
        self, answer: dict[str, Any], shape: str, fixes: bool, followup: str, request: Any
    ) -> str:
        previous = str(request.json["messages"][-2]["content"])
        if "сократи" in followup.lower():
            return dumps(answer) if fixes else previous
        if "числа, которых нет" in followup:
            if shape == "invented" and not fixes:
                return previous
            flagged = set(re.findall(r"\d+(?:[.,]\d+)?", followup.split(":", 1)[1]))
            # The summarizer echoes the answer without its wrapping: the object is in there.
            start, end = previous.index("{"), previous.rindex("}") + 1
            summary = json.loads(previous[start:end])["summary_ru"].replace(INVENTED.strip(), "")
            kept = [
                sentence
                for sentence in re.split(r"(?<=[.!?])\s+", summary.strip())
                if not set(re.findall(r"\d+(?:[.,]\d+)?", sentence)) & flagged
            ]
            return dumps({**answer, "summary_ru": " ".join(kept)}) if kept else previous
        return dumps(answer)


async def run() -> None:
    logging.getLogger("content.summarize").setLevel(logging.ERROR)  # fallbacks are expected
    day = load_day()
    async with EditorLLM(day) as llm:
        summarizer = Summarizer(LLMConfig(base_url=llm.url, api_key="bench", model="editor"))
        summaries = await summarizer.summarize_many(editorial.paper for editorial in day)
        await summarizer.aclose()
        first_answers = dict(llm.first_answers)
        per_paper = collections.Counter(paper_title(r.user_message) for r in llm.requests)

    def source(paper: Paper) -> str:
        return f"{paper.title}\n{paper.abstract}"

    papers = [editorial.paper for editorial in day]
    count = len(papers)
    within = [len(s.summary_ru) <= SUMMARY_MAX_CHARS for s in summaries]
    found = [
        not unknown_numbers(s.summary_ru, source(p)) for s, p in zip(summaries, papers, strict=True)
    ]
    outcomes = collections.Counter(s.outcome.value for s in summaries)
    reasons = collections.Counter(s.reason for s in summaries if s.outcome.value == "fallback")

    def first_summary(paper: Paper) -> str:
        match = re.search(r'"summary_ru":\s*"((?:[^"\\]|\\.)*)"', first_answers[paper.id])
        return json.loads(f'"{match.group(1)}"') if match else ""

    first = [first_summary(p) for p in papers]
    emit(
        "summaries",
        "quality",
        sum(w and f for w, f in zip(within, found, strict=True)) / count,
        "ratio",
        target="== 1",
        papers=count,
        within_350=round(sum(within) / count, 3),
        numbers_found=round(sum(found) / count, 3),
        done=round(outcomes["done"] / count, 3),
        re_asked=round(outcomes["re-asked"] / count, 3),
        cut=round(outcomes["cut"] / count, 3),
        fallback=round(outcomes["fallback"] / count, 3),
        fallback_reasons=dict(reasons),
        first_answer_within_350=round(
            sum(0 < len(text) <= SUMMARY_MAX_CHARS for text in first) / count, 3
        ),
        first_answer_numbers_found=round(
            sum(
                bool(text) and not unknown_numbers(text, source(p))
                for text, p in zip(first, papers, strict=True)
            )
            / count,
            3,
        ),
    )
    emit(
        "summaries",
        "llm_calls_most_for_a_paper",
        max(per_paper.values()),
        "calls",
        target="<= 2",
        mean=round(summarizer.calls / count, 3),
        calls=summarizer.calls,
        papers=count,
    )


if __name__ == "__main__":
    asyncio.run(run())
