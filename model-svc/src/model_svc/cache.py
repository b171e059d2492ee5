"""The local Hugging Face cache (huggingface_hub's layout), read-only: GGUF files put there by
our downloads, by huggingface_hub or by any other tool.

    hub/models--{owner}--{name}/blobs/<etag>
                               /refs/<branch>            (the commit it points to)
                               /snapshots/<commit>/<filename>  -> ../../blobs/<etag>
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from bodhi_common.errors import NotFound
from model_svc.domain import LocalFile, ModelAlias
from model_svc.downloader.validation import check_filename, check_repo, check_revision

_PREFIX = "models--"


def repo_dir(hub_cache: Path, repo: str) -> Path:
    """The cache directory of `owner/name`."""
    return hub_cache / (_PREFIX + repo.replace("/", "--"))


def _repo_of(directory: str) -> str | None:
    owner, sep, name = directory.removeprefix(_PREFIX).partition("--")
    if not directory.startswith(_PREFIX) or not sep or not owner or not name or "--" in name:
        return None
    return f"{owner}/{name}"


def local_files(hub_cache: Path, repo: str | None = None) -> list[LocalFile]:
    """Every *.gguf in every snapshot of every cached repo, or of `repo` only (subdirectories
    included). It walks directories: call it off the event loop."""
    found: list[LocalFile] = []
    if not hub_cache.is_dir():
        return found
    entries = [repo_dir(hub_cache, repo)] if repo is not None else sorted(hub_cache.iterdir())
    for entry in entries:
        repo = _repo_of(entry.name)
        snapshots = entry / "snapshots"
        if repo is None or not snapshots.is_dir():
            continue
        for snapshot in sorted(snapshots.iterdir()):
            found += _files_in(repo, snapshot)
    return found


def _files_in(repo: str, snapshot: Path) -> list[LocalFile]:
    files = []
    for root, _dirs, names in os.walk(snapshot, followlinks=True):
        for name in sorted(names):
            path = Path(root) / name
            if name.endswith(".gguf") and path.is_file():  # a dangling link is not a file
                filename = path.relative_to(snapshot).as_posix()
                size = path.stat().st_size
                files.append(
                    LocalFile(repo=repo, filename=filename, snapshot=snapshot.name, size=size,
                              path=str(path))
                )  # fmt: skip
    return files


def resolve_snapshot(hub_cache: Path, repo: str, revision: str) -> str | None:
    """The snapshot a revision names: a ref's commit, or a snapshot directory itself
    (InvalidArgument for a repo or revision that could lead a path out of the cache)."""
    base = repo_dir(hub_cache, check_repo(repo))
    check_revision(revision)
    ref = base / "refs" / revision
    if ref.is_file():
        return ref.read_text().strip()
    return revision if (base / "snapshots" / revision).is_dir() else None


def find(hub_cache: Path, repo: str, filename: str, revision: str = "main") -> LocalFile | None:
    """The cached file at a revision (branch, tag or commit), or None. Every name a caller gives
    is checked here (InvalidArgument: invalid_repo, invalid_filename, invalid_revision), so no
    lookup, read or delete can be led out of the cache."""
    check_filename(filename)
    snapshot = resolve_snapshot(hub_cache, repo, revision)
    if snapshot is None:
        return None
    path = repo_dir(hub_cache, repo) / "snapshots" / snapshot / filename
    if not path.is_file():
        return None
    return LocalFile(
        repo=repo, filename=filename, snapshot=snapshot, size=path.stat().st_size, path=str(path)
    )


def qualifier(filename: str) -> str:
    """The quantisation part of a file name: `llama-2-7b.Q4_K_M.gguf` -> `Q4_K_M`."""
    name = filename.rsplit("/", 1)[-1]
    parts = name.split(".")
    segment = parts[-2] if len(parts) > 1 else name
    return segment.split("-")[-1]


def model_aliases(hub_cache: Path, repo: str | None = None) -> list[ModelAlias]:
    """One alias `owner/name:QUALIFIER` per repo (or of `repo` only) and qualifier, from the
    snapshot `refs/main` points to (else the greatest snapshot name, as the original did)."""
    chosen: dict[str, LocalFile] = {}
    for file in local_files(hub_cache, repo):
        alias = f"{file.repo}:{qualifier(file.filename)}"
        current = chosen.get(alias)
        if current is None or _prefer(hub_cache, file, current):
            chosen[alias] = file
    return [
        ModelAlias(
            alias=alias,
            repo=f.repo,
            filename=f.filename,
            snapshot=f.snapshot,
            created_at=datetime.fromtimestamp(Path(f.path).stat().st_mtime, UTC),
        )
        for alias, f in sorted(chosen.items())
    ]


def _prefer(hub_cache: Path, candidate: LocalFile, current: LocalFile) -> bool:
    main = resolve_snapshot(hub_cache, candidate.repo, "main")
    if (candidate.snapshot == main) != (current.snapshot == main):
        return candidate.snapshot == main
    return (candidate.snapshot, candidate.filename) > (current.snapshot, current.filename)


def delete(hub_cache: Path, repo: str, filename: str, revision: str) -> LocalFile:
    """Remove a file from a snapshot, and its blob once no snapshot links to it."""
    file = find(hub_cache, repo, filename, revision)
    if file is None:
        raise NotFound(f"{filename} of {repo} is not in the cache", code="hub_file_not_found")
    link = Path(file.path)
    blob = link.resolve()
    link.unlink()
    base = repo_dir(hub_cache, repo)
    still_used = any(p.resolve() == blob for p in (base / "snapshots").rglob("*") if p.is_symlink())
    if blob.is_relative_to(base / "blobs") and not still_used:
        blob.unlink(missing_ok=True)
    return file
