"""The embedded model: its cost per paper and per query, and what it finds across languages.

Throughput: the 225 papers of tests/fixtures/search_papers.json embedded as ingest embeds
them (title and the opening of the abstract, batches of 32, one thread), in this process.
Figures: papers per second, CPU milliseconds per paper (target <= 100), and the CPU cost of
the whole abstract for comparison; a query's p50 and p95.

Cross-lingual retrieval: the same papers with English text only (no Russian title or
summary), stored in SQLite with their vectors; the 30 Russian queries of
tests/test_hybrid_search.py go through the bot's search path. Figures: the share with the
right paper in the top 3 for hybrid search (target >= 0.8), by meaning alone and by words
alone; the exact model names found first.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import SHORT, emit, p95  # noqa: E402
from bot.vectors import VectorService  # noqa: E402
from content.embeddings import (  # noqa: E402
    PASSAGE_ABSTRACT_CHARS,
    LocalModel,
    local_available,
    passage_text,
)
from content.search import parse_query  # noqa: E402
from storage import search  # noqa: E402
from storage.db import create_engine, create_sessionmaker, upgrade_async  # noqa: E402
from tests.test_hybrid_search import (  # noqa: E402
    EXACT_NAMES,
    RUSSIAN_QUERIES,
    english_only,
    hybrid_ids,
    seed_english,
)

BATCH = 32


def cpu_ms_per_paper(model: LocalModel, texts: list[str]) -> tuple[float, float]:
    """(CPU ms a paper, papers a second) of embedding these texts in batches."""
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(texts), BATCH):
        model.passages(texts[start : start + BATCH])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / len(texts) * 1000, len(texts) / wall


def throughput(model: LocalModel) -> None:
    items = english_only()[: 32 if SHORT else None]
    model.passages(["warm up"])
    texts = [passage_text(item["title"], item["abstract"]) for item in items]
    ms, per_second = cpu_ms_per_paper(model, texts)
    emit(
        "embeddings",
        "cpu_ms_per_paper",
        ms,
        "ms",
        target="<= 100",
        papers=len(texts),
        abstract_chars=PASSAGE_ABSTRACT_CHARS,
    )
    emit("embeddings", "papers_per_second", per_second, "papers/s", threads=1)
    whole = [f"{item['title']}. {item['abstract']}" for item in items]
    ms_whole, _ = cpu_ms_per_paper(model, whole)
    emit("embeddings", "cpu_ms_per_paper_whole_abstract", ms_whole, "ms", papers=len(whole))
    timings: list[float] = []
    for text in list(RUSSIAN_QUERIES) * (1 if SHORT else 3):
        started = time.perf_counter()
        model.query(text + " " * len(timings))  # never the same text twice
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    emit("embeddings", "query_p50_ms", statistics.median(timings), "ms")
    emit("embeddings", "query_p95_ms", p95(timings), "ms", queries=len(timings))


async def cross_lingual(model: LocalModel, tmp: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp}/crosslingual.db"
    await upgrade_async(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    try:
        items = english_only()
        texts = [passage_text(item["title"], item["abstract"]) for item in items]
        matrix = np.vstack(
            [model.passages(texts[i : i + BATCH]) for i in range(0, len(texts), BATCH)]
        )
        await seed_english(
            sessionmaker, {item["id"]: row for item, row in zip(items, matrix, strict=True)}
        )
        service = VectorService(model=model, sessionmaker=sessionmaker)
        hybrid = meaning = words = 0
        for text, wanted in RUSSIAN_QUERIES.items():
            hybrid += wanted in await hybrid_ids(sessionmaker, service, text)
            query = parse_query(text)
            meaning += wanted in ((await service.semantic(query)) or [])[:3]
            async with sessionmaker() as session:
                page = await search.search(session=session, query=query, limit=3)
            words += wanted in [hit.id for hit in page.hits]
        total = len(RUSSIAN_QUERIES)
        emit("embeddings", "crosslingual_top3_hybrid", hybrid / total, "share", target=">= 0.8",
             hits=hybrid, queries=total)  # fmt: skip
        emit("embeddings", "crosslingual_top3_meaning_only", meaning / total, "share", hits=meaning)
        emit("embeddings", "crosslingual_top3_words_only", words / total, "share", hits=words)
        first = 0
        for name, wanted in EXACT_NAMES.items():
            first += (await hybrid_ids(sessionmaker, service, name, limit=1)) == [wanted]
        emit("embeddings", "exact_names_first", first, "names", target=f"== {len(EXACT_NAMES)}")
    finally:
        await engine.dispose()


def main() -> None:
    if not local_available():
        print("the embedded model has no wheel for this platform: nothing to measure")
        return
    model = LocalModel()
    throughput(model)
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(cross_lingual(model, tmp))


if __name__ == "__main__":
    main()
