"""How well content/tagging.py tags the hand-labelled papers of tests/fixtures.

Figures, one JSON line each, in two modes: ``llm=false`` from the text alone (the rules), and
``llm=true`` with each paper's recorded LLM answer (tags with quotes, realistic mistakes
included).  For each: micro precision and recall per tag family and over all tags, the overall
ones against their targets, then the same two for the tuning and held-out papers apart (the
held-out ones were labelled before the rules were tuned, so they are the fairer estimate; the
quote cues were later widened on the earlier ones' misses, see the fixture's "about").
Precision counts a predicted tag outside a paper's expected_tags as wrong; recall counts an
expected tag that was not predicted as missed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import emit  # noqa: E402
from tests.tagging_eval import (  # noqa: E402
    LABELLED_PATH,
    TARGETS,
    Counts,
    load_labelled,
    score,
)


def emit_counts(
    family: str,
    counts: Counts,
    *,
    precision_target: str | None = None,
    recall_target: str | None = None,
    **extra: Any,
) -> None:
    predicted, expected = counts.tp + counts.fp, counts.tp + counts.fn
    emit(
        "tagging",
        "precision",
        counts.precision,
        "ratio",
        target=precision_target,
        family=family,
        predicted=predicted,
        **extra,
    )
    emit(
        "tagging",
        "recall",
        counts.recall,
        "ratio",
        target=recall_target,
        family=family,
        expected=expected,
        **extra,
    )


def main() -> None:
    labelled = load_labelled(LABELLED_PATH)
    for with_llm in (False, True):
        report = score(labelled, with_llm=with_llm)
        for family, counts in report.by_family.items():
            emit_counts(family, counts, llm=with_llm)
        precision_target, recall_target = TARGETS[with_llm]
        emit_counts(
            "all",
            report.overall,
            precision_target=precision_target,
            recall_target=recall_target,
            papers=len(labelled),
            llm=with_llm,
        )
        for split in ("tuning", "holdout"):
            part = [item for item in labelled if item.split == split]
            counts = score(part, with_llm=with_llm).overall
            emit_counts("all", counts, split=split, papers=len(part), llm=with_llm)


if __name__ == "__main__":
    main()
