"""Checks on the names a caller gives, so none of them can lead a path out of the cache."""

from __future__ import annotations

import re

from bodhi_common.errors import InvalidArgument

# The Hub's own rule (huggingface_hub's validate_repo_id), in ASCII: word characters, dots and
# dashes, starting and ending with a word character, at most 96 long; "--" is reserved because
# the cache folder is `models--owner--name`.
_REPO_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?")
_REVISION = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]{0,254}")
_SEGMENT_BYTES = 255
_PATH_BYTES = 1024


def check_repo(repo: str) -> str:
    """Return `repo` if it is `owner/name` as the Hub spells one, else raise InvalidArgument."""
    owner, _, name = repo.partition("/")
    ok = (
        _REPO_PART.fullmatch(owner) is not None
        and _REPO_PART.fullmatch(name) is not None
        and ".." not in repo
        and "--" not in repo
        and not name.endswith(".git")
    )
    if not ok:
        raise InvalidArgument(
            "repo must be 'owner/name' using letters, digits, '.', '_' and '-'",
            code="invalid_repo",
            param="repo",
        )
    return repo


def check_filename(filename: str) -> str:
    """Return `filename` if it is a relative path that stays inside a snapshot folder."""
    if not _is_safe_relative_path(filename):
        raise InvalidArgument(
            "filename must be a relative path inside the repo, without '..', '\\' or a leading '/'",
            code="invalid_filename",
            param="filename",
        )
    return filename


def check_revision(revision: str) -> str:
    """Return `revision` if it is a branch, tag or commit name that stays inside `refs/`."""
    if _REVISION.fullmatch(revision) is None or not _is_safe_relative_path(revision):
        raise InvalidArgument(
            "revision must be a branch, tag or commit name",
            code="invalid_revision",
            param="revision",
        )
    return revision


def _is_safe_relative_path(path: str) -> bool:
    """True when `path` is non-empty, relative, '/'-separated and has no '.'/'..' segment."""
    if not path or len(path.encode()) > _PATH_BYTES or path.startswith("/"):
        return False
    if "\\" in path or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        return False
    segments = path.split("/")
    return all(s not in ("", ".", "..") and len(s.encode()) <= _SEGMENT_BYTES for s in segments)
