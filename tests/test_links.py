r"""Code and project links, one test per way real abstracts give them.

The rules are in docs/architecture.md ("Ingest"). The cases follow the 24 real phrasings
collected for the project (A1–E24): trailing punctuation, LaTeX ``\url{}``, arXiv comments,
github.io pages, HF links, missing links.
"""

from __future__ import annotations

from content.links import find_code_url, find_project_url, normalize_code_url


def code(*texts: str | None, github_repo: str | None = None) -> str | None:
    return find_code_url(github_repo=github_repo, texts=texts)


def project(*texts: str | None, project_page: str | None = None) -> str | None:
    return find_project_url(project_page=project_page, texts=texts)


# --- A. Plain GitHub links with trailing punctuation ---------------------------------------


def test_a1_trailing_period_after_the_repo_is_not_part_of_it():
    text = "Code and checkpoints are available at https://github.com/yueyang130/DeeR-VLA."
    assert code(text) == "https://github.com/yueyang130/DeeR-VLA"


def test_a2_space_before_the_final_period_and_a_hard_wrap_in_the_sentence():
    text = (
        "We study visual embedding distillation. Our code is\n"
        "open-sourced at https://github.com/SHI-Labs/OLA-VLM ."
    )
    assert code(text) == "https://github.com/SHI-Labs/OLA-VLM"


def test_a3_repo_labelled_project_page_is_code_not_a_project_page():
    text = "The code and weights are released in our Project Page: https://github.com/MetabrainAGI/Awaker."
    assert code(text) == "https://github.com/MetabrainAGI/Awaker"
    assert project(text) is None


def test_a4_repo_url_as_the_last_token_without_punctuation():
    text = "We release all code, agents and results at https://github.com/ali-vilab/ChatDiT"
    assert code(text) == "https://github.com/ali-vilab/ChatDiT"


def test_a5_git_suffix_followed_by_a_period():
    text = "Code is available at https://github.com/GIGABaozi/AED.git."
    assert code(text) == "https://github.com/GIGABaozi/AED"


def test_a6_www_github_com_is_github_com():
    text = "Our code is available at https://www.github.com/sadimanna/DySTreSS."
    assert code(text) == "https://github.com/sadimanna/DySTreSS"


def test_a7_benchmark_and_evaluation_code_repo():
    text = "Our benchmark and evaluation code is available at https://github.com/PICDA/PICBench."
    assert code(text) == "https://github.com/PICDA/PICBench"


def test_a8_models_phrasing_still_names_a_repository():
    text = "The models are available at https://github.com/showlab/ShowUI."
    assert code(text) == "https://github.com/showlab/ShowUI"


def test_a9_awesome_list_repositories_are_repositories_too():
    bibliography = (
        "We maintain a curated bibliography at https://github.com/Li-Zn-H/AwesomeWorldModels."
    )
    survey = (
        "For more details, please visit our GitHub repository: "
        "https://github.com/swordlidev/Evaluation-Multimodal-LLMs-Survey."
    )
    assert code(bibliography) == "https://github.com/Li-Zn-H/AwesomeWorldModels"
    assert code(survey) == "https://github.com/swordlidev/Evaluation-Multimodal-LLMs-Survey"


# --- B. LaTeX \url{...} left inside the abstract ---------------------------------------------


def test_b10_latex_url_wrapper_and_period_are_stripped():
    text = r"Code is available at \url{https://github.com/jrosseruk/AgentBreeder}."
    assert code(text) == "https://github.com/jrosseruk/AgentBreeder"


def test_b11_latex_url_wrapper_in_a_short_sentence():
    text = r"Our code is available at \url{https://github.com/tuananhbui89/TAMOO}."
    assert code(text) == "https://github.com/tuananhbui89/TAMOO"


def test_b12_latex_url_wrapper_after_a_long_phrase():
    text = (
        r"The resources to reproduce this work are available at "
        r"\url{https://github.com/budai4medtech/miua2022}."
    )
    assert code(text) == "https://github.com/budai4medtech/miua2022"


# --- C. Links in the arXiv comment, org-only and multiple links ---------------------------


def test_c13_wrapped_comment_skips_the_org_and_the_other_site_for_the_first_repo():
    abstract = "We present the Lipschitz regularization theory for loss-sensitive GANs."
    comment = (
        "The source codes for both LS-GAN and GLS-GAN are available at\n"
        "  \\url{https://github.com/maple-research-lab}. LS-GAN is also supported by\n"
        "  Microsoft CNTK at\n"
        "  \\url{https://www.cntk.ai/pythondocs/CNTK_206C_WGAN_LSGAN.html}. The original\n"
        "  codes of LS-GAN and GLS-GAN are also available at\n"
        "  https://github.com/guojunq/lsgan/ and https://github.com/guojunq/glsgan/"
    )
    assert code(abstract, comment) == "https://github.com/guojunq/lsgan"
    assert project(abstract, comment) is None


def test_c14_project_page_line_in_the_comment_is_the_project_page():
    comment = "Project Page: https://praeclarumjj3.github.io/visper_lm/"
    assert project(comment) == "https://praeclarumjj3.github.io/visper_lm/"
    assert code(comment) is None


# --- D. github.io / other project pages and Hugging Face links ----------------------------


def test_d15_github_io_page_ending_in_slash_period_loses_the_period():
    text = "For more details and videos, please refer to the webpage: https://yu-shaonian.github.io/Animate_Anything/."
    assert project(text) == "https://yu-shaonian.github.io/Animate_Anything/"
    assert code(text) is None


def test_d16_github_io_root_page_with_a_sentence_period():
    text = "Our project page is at https://ficoco-accelerate.github.io/."
    assert project(text) == "https://ficoco-accelerate.github.io/"


def test_d17_github_io_page_without_trailing_punctuation():
    text = "Project page: https://gchhablani.github.io/embodied-splat"
    assert project(text) == "https://gchhablani.github.io/embodied-splat"


def test_d18_hugging_face_dataset_is_neither_code_nor_a_project_page():
    text = (
        "highlighting the need for a shift towards preference-aligned training.We release our "
        "benchmark and code publicly at "
        "https://huggingface.co/datasets/jinzhuoran/RAG-RewardBench/ for future work."
    )
    assert code(text) is None
    assert project(text) is None


def test_d19_hf_fields_come_first_even_when_the_abstract_has_no_link():
    abstract = "We benchmark large multimodal models as in-context classifiers."
    assert (
        code(abstract, github_repo="https://github.com/marco-garosi/CIRCLE")
        == "https://github.com/marco-garosi/CIRCLE"
    )
    assert (
        project(abstract, project_page="https://circle-lmm.github.io/")
        == "https://circle-lmm.github.io/"
    )


# --- E. Links hidden, replaced or absent -------------------------------------------------------


def test_e20_arxiv_listing_placeholder_this_https_url_yields_nothing():
    comment = "Comments:\n          Project Page: this https URL"
    assert code(comment) is None
    assert project(comment) is None


def test_e21_no_link_although_the_code_exists():
    text = "All the data and code will be publicly available to facilitate future research."
    assert code(text) is None


def test_e22_a_promise_of_code_is_not_a_link():
    assert code("The code will be made publicly available.") is None


def test_e23_hf_discussion_mislabelled_as_code_and_an_hf_prefixed_arxiv_link():
    text = (
        "additional_links: [{name: Code, url: 'https://huggingface.co/discussions/paper/"
        "673acbc18127cd120caeb5c3'},\n  {name: Paper, url: 'https://arxiv.org/abs/hf2411.10442'}]"
    )
    assert code(text) is None
    assert project(text) is None


def test_e24_full_width_cjk_period_after_the_url():
    text = "详细结果和基准可访问：https://github.com/open-compass/GPassK。"
    assert code(text) == "https://github.com/open-compass/GPassK"


# --- Precedence and normalisation ------------------------------------------------------------


def test_hf_github_repo_wins_over_a_repo_in_the_abstract():
    abstract = "Code: https://github.com/someone/fork."
    assert (
        code(abstract, github_repo="https://github.com/thunlp/LLaVA-UHD")
        == "https://github.com/thunlp/LLaVA-UHD"
    )


def test_hf_github_repo_that_is_no_repository_falls_back_to_the_texts():
    abstract = "Code is at https://github.com/OpenGVLab/InternVL."
    assert code(abstract, github_repo="https://github.com/OpenGVLab") == (
        "https://github.com/OpenGVLab/InternVL"
    )


def test_abstract_is_searched_before_the_comment_and_missing_texts_are_skipped():
    abstract = "Code: https://github.com/first/in-abstract."
    comment = "See https://github.com/second/in-comment"
    assert code(None, abstract, comment) == "https://github.com/first/in-abstract"
    assert code(None, "", comment) == "https://github.com/second/in-comment"


def test_deep_links_query_and_fragment_lead_to_the_repo_root():
    deep = "https://github.com/OpenGVLab/InternVL/tree/main/internvl_chat/shell/internvl2.0_mpo"
    assert normalize_code_url(deep) == "https://github.com/OpenGVLab/InternVL"
    assert normalize_code_url("https://github.com/a-b/c_d?tab=readme#usage") == (
        "https://github.com/a-b/c_d"
    )


def test_owner_and_repo_keep_their_case_and_http_becomes_https():
    assert normalize_code_url("http://GitHub.com/SHI-Labs/OLA-VLM") == (
        "https://github.com/SHI-Labs/OLA-VLM"
    )


def test_markdown_and_parenthesised_links_end_at_the_bracket():
    assert code("[Code](https://github.com/thunlp/LLaVA-UHD)") == (
        "https://github.com/thunlp/LLaVA-UHD"
    )
    assert code("(see https://github.com/thunlp/LLaVA-UHD),") == (
        "https://github.com/thunlp/LLaVA-UHD"
    )


def test_url_glued_to_cjk_text_without_a_separator():
    assert code("代码访问https://github.com/open-compass/GPassK") == (
        "https://github.com/open-compass/GPassK"
    )


def test_gitlab_projects_are_code_with_their_group_path():
    text = "Code: https://gitlab.com/group/subgroup/project/-/tree/main/src."
    assert code(text) == "https://gitlab.com/group/subgroup/project"
    assert code("See https://gitlab.com/just-a-group.") is None


def test_github_pages_that_are_not_repositories_are_not_code():
    assert code("https://github.com/orgs/OpenGVLab/repositories") is None
    assert code("https://gist.github.com/someone/0123abcd") is None
    assert code("https://github.com/maple-research-lab/") is None


def test_hf_project_page_that_is_a_repository_is_not_used_as_project_page():
    text = "Project page: https://thunlp.github.io/LLaVA-UHD/"
    assert project(text, project_page="https://github.com/thunlp/LLaVA-UHD") == (
        "https://thunlp.github.io/LLaVA-UHD/"
    )


def test_an_unlabelled_link_to_another_site_is_not_a_project_page():
    assert project("Supported by Microsoft CNTK at https://www.cntk.ai/pythondocs/x.html.") is None
    assert project("Website: https://the-agent-company.com.") == "https://the-agent-company.com"
    assert project("Project page will come soon. Data at https://example.org/data.") is None
