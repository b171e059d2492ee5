"""Repo ids, filenames and revisions that could lead a path out of the cache are refused."""

from __future__ import annotations

import pytest

from bodhi_common.errors import InvalidArgument
from model_svc.downloader import check_filename, check_repo, check_revision

GOOD_REPOS = [
    "TheBloke/Llama-2-7B-GGUF",
    "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF",
    "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
    "ggml-org/gemma-3-1b-it-GGUF",
    "a/b",
    "user_1/model.v2",
]
BAD_REPOS = [
    "",
    "noslash",
    "../../etc",
    "owner/..",
    "../name",
    "%2e%2e/passwd",
    "/abs/name",
    "owner/",
    "/name",
    "a/b/c/d",
    "a/b/c",
    "owner/na\x00me",
    "owner/na me",
    "owner\\name/x",
    "owner/a..b",
    "owner/a--b",
    "owner/-name",
    "owner/name.",
    "owner/name.git",
    "owner/" + "x" * 97,
]


@pytest.mark.parametrize("repo", GOOD_REPOS)
def test_real_repo_ids_are_accepted(repo: str) -> None:
    assert check_repo(repo) == repo


@pytest.mark.parametrize("repo", BAD_REPOS)
def test_malformed_or_escaping_repo_ids_are_refused(repo: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_repo(repo)
    assert caught.value.code == "invalid_repo"
    assert caught.value.param == "repo"


@pytest.mark.parametrize(
    "filename",
    [
        "model.Q4_K_M.gguf",
        "sub/dir/model.gguf",
        "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
        "a..b.gguf",
        "x" * 255,
    ],
)
def test_relative_filenames_are_accepted(filename: str) -> None:
    assert check_filename(filename) == filename


@pytest.mark.parametrize(
    "filename",
    [
        "",
        "../x",
        "../../etc/passwd",
        "sub/../../x",
        "sub/..",
        "./model.gguf",
        "/etc/passwd",
        "//server/share",
        "sub\\..\\x",
        "C:\\model.gguf",
        "sub//model.gguf",
        "sub/",
        "mo\x00del.gguf",
        "line\nbreak.gguf",
        "x" * 256,
        "sub/" + "é" * 128,  # 256 bytes in UTF-8
    ],
)
def test_filenames_that_leave_the_snapshot_are_refused(filename: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_filename(filename)
    assert caught.value.code == "invalid_filename"
    assert caught.value.param == "filename"


@pytest.mark.parametrize("revision", ["main", "v1.0", "refs/pr/1", "a" * 40])
def test_branch_tag_and_commit_revisions_are_accepted(revision: str) -> None:
    assert check_revision(revision) == revision


@pytest.mark.parametrize("revision", ["", "..", "../main", "/main", "main/../../x", "a\\b", "-x"])
def test_escaping_revisions_are_refused(revision: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_revision(revision)
    assert caught.value.code == "invalid_revision"
