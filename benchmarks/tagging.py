"""How well content/tagging.py tags the hand-labelled papers of tests/fixtures.

Figures, one JSON line each: micro precision and recall per tag family and over all tags,
then the same two over all tags for the held-out papers alone (labelled after the rules were
tuned, so the honest estimate).  Precision counts a predicted tag outside a paper's
expected_tags as wrong; recall counts an expected tag that was not predicted as missed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import emit  # noqa: E402
from tests.tagging_eval import LABELLED_PATH, Counts, load_labelled, score  # noqa: E402


def emit_counts(family: str, counts: Counts, **extra: Any) -> None:
    predicted, expected = counts.tp + counts.fp, counts.tp + counts.fn
    emit(
        "tagging",
        "precision",
        counts.precision,
        "ratio",
        family=family,
        predicted=predicted,
        **extra,
    )
    emit("tagging", "recall", counts.recall, "ratio", family=family, expected=expected, **extra)


def main() -> None:
    labelled = load_labelled(LABELLED_PATH)
    report = score(labelled)
    for family, counts in report.by_family.items():
        emit_counts(family, counts)
    emit_counts("all", report.overall, papers=len(labelled))
    holdout = [item for item in labelled if item.split == "holdout"]
    emit_counts("all", score(holdout).overall, split="holdout", papers=len(holdout))


if __name__ == "__main__":
    main()
