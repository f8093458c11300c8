r"""Code-repository and project-page links from HF fields and paper texts.

Abstracts and arXiv comments give links in many shapes: with a sentence's period glued on,
inside LaTeX ``\url{…}``, as ``.git`` clones, on ``www.github.com``, as deep links into a
tree, after a full-width "。", or not at all ("this https URL" in arXiv listings). Code is a
GitHub or GitLab repository; any other page the authors call their project page, and every
``*.github.io`` site, is the project page.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Final
from urllib.parse import urlsplit

# ASCII only: a URL glued to CJK text ("可访问：https://…", "访问https://…") still starts a
# link, while "gist.github.com" or "example.com/github.com/…" do not.
_START: Final[str] = r"(?<![A-Za-z0-9@._/-])"

_LATEX_URL: Final = re.compile(r"\\(?:url|href)\s*\{\s*([^{}\s]*)\s*\}")

_CODE_URL: Final = re.compile(
    _START + r"(?:https?://)?(?:www\.)?(?P<host>github\.com|gitlab\.com)"
    r"/(?P<path>[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*)",
    re.IGNORECASE,
)

_ANY_URL: Final = re.compile(_START + r"(?:https?://|www\.)[^\s<>\"'`{}\[\]\\|^]+", re.IGNORECASE)

_TRAILING: Final[str] = ".,;:!?)]}>'\"。，；：！？、）"

# Words that introduce a project page, looked for just before a URL in the same sentence.
_PROJECT_LABEL: Final = re.compile(
    r"(?:\b(?:project|home)[\s-]*(?:page|site|website)|\bweb[\s-]*(?:page|site))"
    r"[^.!?。]{0,40}$",
    re.IGNORECASE,
)
_LABEL_WINDOW: Final[int] = 80

# First path segments of github.com that are GitHub's own pages, not an owner.
_GITHUB_RESERVED: Final[frozenset[str]] = frozenset(
    {
        "about",
        "apps",
        "collections",
        "enterprise",
        "events",
        "explore",
        "features",
        "issues",
        "login",
        "marketplace",
        "notifications",
        "orgs",
        "pricing",
        "pulls",
        "search",
        "settings",
        "sponsors",
        "topics",
        "trending",
    }
)
# GitLab paths end where these segments begin: "/-/tree/main", legacy "/tree/main", …
_GITLAB_STOP: Final[frozenset[str]] = frozenset(
    {"-", "tree", "blob", "raw", "issues", "merge_requests", "wikis", "commits"}
)

# Hosts that are never a project page: code hosts (code, not a page), and papers, models and
# datasets hosts (HF discussions and datasets are what some metadata mislabels as code).
_NOT_PROJECT_HOSTS: Final[frozenset[str]] = frozenset(
    {
        "github.com",
        "gist.github.com",
        "raw.githubusercontent.com",
        "gitlab.com",
        "huggingface.co",
        "hf.co",
        "arxiv.org",
        "export.arxiv.org",
        "doi.org",
        "dx.doi.org",
    }
)


def find_code_url(*, github_repo: str | None, texts: Iterable[str | None]) -> str | None:
    """The paper's code repository: HF `githubRepo`, else the first repo URL in the texts.

    Pass the texts in order of trust: the abstract, then the arXiv comment. The result is
    ``https://github.com/<owner>/<repo>`` (or a GitLab project), case kept as written.
    """
    if github_repo:
        for url in _code_urls(github_repo):
            return url
    for text in texts:
        if text:
            for url in _code_urls(text):
                return url
    return None


def find_project_url(*, project_page: str | None, texts: Iterable[str | None]) -> str | None:
    """The paper's project page: HF `projectPage`, else a github.io or labelled page in the texts.

    A GitHub or GitLab repository is never a project page, even when labelled one: that is
    code. HF, arXiv and DOI links are not project pages either.
    """
    if project_page:
        for url, _ in _urls(_clean(project_page)):
            if _is_project_host(url):
                return url
    for text in texts:
        if not text:
            continue
        cleaned = _clean(text)
        for url, start in _urls(cleaned):
            if not _is_project_host(url):
                continue
            host = _host(url)
            before = cleaned[max(0, start - _LABEL_WINDOW) : start]
            if host.endswith(".github.io") or _PROJECT_LABEL.search(before):
                return url
    return None


def normalize_code_url(url: str) -> str | None:
    """``https://github.com/<owner>/<repo>`` for any link into a repository, else None."""
    return next(_code_urls(url), None)


def _clean(text: str) -> str:
    # Joining arXiv's hard wraps keeps a label and its URL in one window; \url{…} goes so its
    # closing brace cannot end up in the link.
    return _LATEX_URL.sub(r"\1", " ".join(text.split()))


def _code_urls(text: str) -> Iterator[str]:
    for match in _CODE_URL.finditer(_clean(text)):
        host = match.group("host").lower()
        segments = match.group("path").split("/")
        url = _github_repo(segments) if host == "github.com" else _gitlab_project(segments)
        if url:
            yield url


def _github_repo(segments: list[str]) -> str | None:
    if len(segments) < 2 or segments[0].lower() in _GITHUB_RESERVED:
        return None
    owner, repo = segments[0], _strip_repo_suffix(segments[1])
    if not repo or not owner.strip(".-_"):
        return None
    return f"https://github.com/{owner}/{repo}"


def _gitlab_project(segments: list[str]) -> str | None:
    path: list[str] = []
    for segment in segments:
        if segment.lower() in _GITLAB_STOP:
            break
        path.append(segment)
    if len(path) < 2:
        return None
    path[-1] = _strip_repo_suffix(path[-1])
    if not path[-1]:
        return None
    return "https://gitlab.com/" + "/".join(path)


def _strip_repo_suffix(name: str) -> str:
    # "AED.git." → "AED": a sentence's period, then the clone suffix, then any period left.
    name = name.rstrip(".")
    if name.lower().endswith(".git"):
        name = name[:-4].rstrip(".")
    return "" if name in {"", ".", ".."} else name


def _urls(cleaned: str) -> Iterator[tuple[str, int]]:
    for match in _ANY_URL.finditer(cleaned):
        url = match.group().rstrip(_TRAILING)
        if url.lower().startswith("www."):
            url = "https://" + url
        if _host(url):
            yield url, match.start()


def _host(url: str) -> str:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def _is_project_host(url: str) -> bool:
    host = _host(url)
    return "." in host and host not in _NOT_PROJECT_HOSTS
