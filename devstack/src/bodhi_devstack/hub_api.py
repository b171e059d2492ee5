"""The local Hub's `/api/models` JSON (`bodhi_devstack.hub`), shaped like huggingface.co's:
`/api/models/{repo}[/revision/{rev}]` (model info with siblings) and
`/api/models/{repo}/tree/{rev}[/{path}][?recursive=true]` (files and folders)."""

from __future__ import annotations

import hashlib

from bodhi_devstack.hub_files import HubFile
from bodhi_devstack.hub_state import Entry, HubState, Missing

_DATE = "2024-01-01T00:00:00.000Z"


def api_models(state: HubState, segments: list[str], query: dict[str, list[str]]) -> object:
    """The JSON for a path under /api/models/, or why there is none."""
    repo, rest = state.split_repo(segments)
    revision, tree = "main", None
    if len(rest) >= 2 and rest[0] in ("revision", "tree"):
        revision = rest[1]
        if rest[0] == "tree":
            tree = "/".join(rest[2:]).strip("/")
    elif rest:
        return Missing("EntryNotFound", f"unknown API path {'/'.join(segments)}")
    branch = state.branch(repo, revision)
    if isinstance(branch, Missing):
        return branch
    if tree is None:
        return model_info(repo, branch.commit, branch.files)
    recursive = query.get("recursive", ["false"])[0].lower() in ("true", "1")
    return tree_listing(branch.files, tree, recursive)


def _lfs(hub_file: HubFile, key: str) -> dict[str, object]:
    return {key: hub_file.sha256, "size": hub_file.size, "pointerSize": hub_file.pointer_size}


def model_info(repo: str, commit: str, files: dict[str, Entry]) -> dict[str, object]:
    siblings: list[dict[str, object]] = []
    for name in sorted(files):
        hub_file = files[name].file
        sibling: dict[str, object] = {
            "rfilename": name,
            "size": hub_file.size,
            "blobId": hub_file.git_oid,
        }
        if hub_file.lfs:
            sibling["lfs"] = _lfs(hub_file, "sha256")
        siblings.append(sibling)
    gguf = any(name.endswith(".gguf") for name in files)
    return {
        "_id": commit[:24],
        "id": repo,
        "modelId": repo,
        "author": repo.split("/")[0] if "/" in repo else None,
        "sha": commit,
        "lastModified": _DATE,
        "createdAt": _DATE,
        "private": False,
        "gated": "manual" if any(e.file.gated for e in files.values()) else False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": ["gguf"] if gguf else [],
        "library_name": "gguf" if gguf else None,
        "siblings": siblings,
    }


def tree_listing(files: dict[str, Entry], under: str, recursive: bool) -> list[dict[str, object]]:
    """Folders and files below `under` (its direct children unless recursive), folders first on
    the way down as the Hub lists them."""
    prefix = f"{under}/" if under else ""
    entries: dict[str, dict[str, object]] = {}
    for name in sorted(files):
        if not name.startswith(prefix):
            continue
        parts = name[len(prefix) :].split("/")
        folders = len(parts) - 1 if recursive else min(1, len(parts) - 1)
        for i in range(1, folders + 1):
            folder = prefix + "/".join(parts[:i])
            oid = hashlib.sha1(f"tree:{folder}".encode(), usedforsecurity=False).hexdigest()
            entries.setdefault(folder, {"type": "directory", "oid": oid, "size": 0, "path": folder})
        if recursive or len(parts) == 1:
            hub_file = files[name].file
            entry: dict[str, object] = {
                "type": "file",
                "oid": hub_file.git_oid,
                "size": hub_file.size,
                "path": name,
            }
            if hub_file.lfs:
                entry["lfs"] = _lfs(hub_file, "oid")
            entries[name] = entry
    return list(entries.values())
