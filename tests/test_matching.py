"""How follows, authors and mutes match papers, and the "why this came" line."""

from __future__ import annotations

from bot import keyboards
from content.matching import (
    AUTHOR,
    MUTE_TAG,
    MUTE_WORD,
    WORD,
    Matcher,
    PaperText,
    Reason,
    author_key,
    phrase_key,
    profile,
)

SEAL = PaperText(
    id="2412.09492",
    tags=("cv",),
    title="Video Seal: Open and Efficient Video Watermarking",
    abstract="Video watermarking embeds imperceptible signals into videos.",
    title_ru="Video Seal: водяные знаки для видео",
    summary_ru="Модель встраивает в видео незаметные водяные знаки.",
    authors=("Pierre Fernandez", "Hervé Jégou"),
)
META = PaperText(
    id="2412.14164",
    tags=("mllm", "benchmark"),
    title="MetaMorph: Multimodal Understanding and Generation via Instruction Tuning",
    abstract="A pretrained LLM morphs into a unified model.",
    authors=("Shengbang Tong", "Yann LeCun"),
)
APOLLO = PaperText(
    id="2412.10360",
    tags=("mllm",),
    title="Apollo: An Exploration of Video Understanding in Large Multimodal Models",
    abstract="Video perception in LMMs.",
    authors=("Yann Dubois", "Y. Zhang"),
)
PAPERS = [META, APOLLO, SEAL]


def ids(*follows: tuple[str, str], tags: tuple[str, ...] = ()) -> list[str]:
    rows = []
    for kind, text in follows:
        key = author_key(text) if kind == AUTHOR else phrase_key(text) or text
        rows.append((kind, key or text, text))
    matcher = Matcher(PAPERS)
    return [PAPERS[p].id for p in matcher.matching(profile(tags, rows))]


def test_words_match_with_the_stemming_of_search_in_either_language() -> None:
    assert ids((WORD, "watermark")) == [SEAL.id]
    assert ids((WORD, "Watermarks")) == [SEAL.id]
    assert ids((WORD, "водяной знак")) == [SEAL.id]
    assert ids((WORD, "video understanding")) == [APOLLO.id]  # every word must occur
    assert ids((WORD, "video seal understanding")) == []


def test_keys_ignore_inflection_order_and_stopwords() -> None:
    assert phrase_key("Водяные знаки") == phrase_key("знак водяной")
    assert phrase_key("the watermarks") == phrase_key("watermark")
    assert phrase_key("for the") is None


def test_authors_match_by_name_words_never_a_namesake() -> None:
    assert ids((AUTHOR, "LeCun")) == [META.id]
    assert ids((AUTHOR, "Yann LeCun")) == [META.id]
    assert ids((AUTHOR, "Y. LeCun")) == [META.id]
    assert ids((AUTHOR, "Yann")) == [META.id, APOLLO.id]
    assert ids((AUTHOR, "Dubois LeCun")) == []  # two authors' words on one paper are no match
    assert ids((AUTHOR, "herve jegou")) == [SEAL.id]  # accents aside
    assert author_key("Y.") is None


def test_a_mute_wins_over_every_reason() -> None:
    assert ids(tags=("mllm",)) == [META.id, APOLLO.id]
    assert ids((MUTE_WORD, "video"), tags=("mllm",)) == [META.id]
    assert ids((MUTE_TAG, "benchmark"), tags=("mllm",)) == [APOLLO.id]
    assert ids((WORD, "watermark"), (MUTE_WORD, "видео")) == []


def test_the_reason_names_tags_words_and_authors() -> None:
    rows = [
        (WORD, phrase_key("watermark") or "", "watermark"),
        (AUTHOR, "herve jegou", "Jégou"),
    ]
    wanted = profile(["cv"], rows)
    matcher = Matcher(PAPERS)
    [position] = matcher.matching(wanted)
    reason = matcher.reason(wanted, position)
    assert reason == Reason(tags=("cv",), words=("watermark",), authors=("Hervé Jégou",))
    assert reason.line() == "#cv · «watermark» · автор: Hervé Jégou"


def test_remove_buttons_fit_callback_data_and_reject_forgeries() -> None:
    data = keyboards.encode_follow(WORD, "x" * 128)
    assert len(data.encode()) <= 64
    pressed = keyboards.decode_follow(data)
    assert pressed is not None and pressed.kind == WORD
    for forged in ("fx:w:zzzz", "fx:q:0123456789ab", "fx:w", "", None, "u:mllm"):
        assert keyboards.decode_follow(forged) is None
