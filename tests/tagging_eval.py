"""Load the hand-labelled tagging set and score content.tagging against it.

Shared by tests/test_tagging.py and benchmarks/tagging.py; content/tagging.py knows nothing
about the file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from content.models import Paper, Source
from content.tagging import tag_paper
from content.taxonomy import FAMILIES, TAG_IDS, get_tag

LABELLED_PATH = Path(__file__).resolve().parent / "fixtures" / "tagging_labelled.json"

TARGETS: dict[bool, tuple[str, str | None]] = {
    False: (">= 0.95", None),  # rules alone: precision first, recall is reported
    True: (">= 0.9", ">= 0.85"),  # with the LLM's quoted choice
}
"""Overall (precision, recall) targets on the whole labelled set, by "with the LLM's choice"."""


@dataclass(frozen=True, slots=True)
class Labelled:
    paper: Paper
    expected: frozenset[str]
    split: str  # "tuning" (the rules were tuned on it) or "holdout" (labelled afterwards)
    llm_tags: tuple[tuple[str, str], ...] = ()  # an LLM's (tag, quote) answer, mistakes and all

    def tag(self, *, with_llm: bool) -> tuple[str, ...]:
        """The paper's tags from its text alone, or with the LLM's quoted choice."""
        return tag_paper(self.paper, llm_tags=dict(self.llm_tags) if with_llm else ())


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        predicted = self.tp + self.fp
        return self.tp / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        expected = self.tp + self.fn
        return self.tp / expected if expected else 1.0


@dataclass
class Report:
    by_family: dict[str, Counts] = field(default_factory=dict)
    by_tag: dict[str, Counts] = field(default_factory=dict)
    overall: Counts = field(default_factory=Counts)
    false_positives: list[tuple[str, str]] = field(default_factory=list)  # (paper id, tag)
    false_negatives: list[tuple[str, str]] = field(default_factory=list)


def load_labelled(path: Path = LABELLED_PATH) -> list[Labelled]:
    data = json.loads(path.read_text(encoding="utf-8"))
    items: list[Labelled] = []
    for raw in data["papers"]:
        expected = frozenset(raw["expected_tags"])
        unknown = expected - TAG_IDS
        if unknown:
            raise ValueError(f"{raw['id']}: unknown tags {sorted(unknown)}")
        paper = Paper(
            id=raw["id"],
            title=raw["title"],
            abstract=raw["abstract"],
            listed_on=dt.date(2025, 1, 1),
            source=Source.HF,
            url=f"https://huggingface.co/papers/{raw['id']}",
            ai_keywords=tuple(raw.get("ai_keywords", ())),
        )
        llm_tags = tuple((item["tag"], item["quote"]) for item in raw.get("llm_tags", ()))
        items.append(
            Labelled(
                paper=paper,
                expected=expected,
                split=raw.get("split", "tuning"),
                llm_tags=llm_tags,
            )
        )
    return items


def family_of(tag_id: str) -> str:
    tag = get_tag(tag_id)
    assert tag is not None, tag_id
    return tag.family


def score(
    labelled: Iterable[Labelled],
    predicted: Mapping[str, Iterable[str]] | None = None,
    *,
    with_llm: bool = False,
) -> Report:
    """Micro precision/recall per family, per tag and overall; predicted defaults to tag_paper.

    With ``with_llm``, tag_paper also gets each paper's recorded LLM answer, quotes included.
    """
    report = Report(
        by_family={family: Counts() for family in FAMILIES},
        by_tag={tag_id: Counts() for tag_id in sorted(TAG_IDS)},
    )
    for item in labelled:
        got = set(predicted[item.paper.id] if predicted else item.tag(with_llm=with_llm))
        for tag_id in got | item.expected:
            buckets = (report.by_family[family_of(tag_id)], report.by_tag[tag_id], report.overall)
            if tag_id in got and tag_id in item.expected:
                for counts in buckets:
                    counts.tp += 1
            elif tag_id in got:
                for counts in buckets:
                    counts.fp += 1
                report.false_positives.append((item.paper.id, tag_id))
            else:
                for counts in buckets:
                    counts.fn += 1
                report.false_negatives.append((item.paper.id, tag_id))
    return report
