"""Put a verified file into huggingface_hub's cache layout, and find files already there.

Layout (as `huggingface_hub.file_download` writes and reads it):
`<hf_home>/hub/models--{owner}--{name}/blobs/<etag>` holds the bytes,
`snapshots/<commit>/<filename>` is a relative symlink to the blob, and `refs/<revision>` holds
the commit a branch or tag pointed to. The blob is moved in first and the snapshot link and the
ref are written last, each by an atomic rename, so a crash never leaves a link to a missing blob
and a reader never sees a half-written file.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from pathlib import Path

from model_svc.downloader.journal import sidecar_path
from model_svc.downloader.remote import RemoteFile
from model_svc.downloader.validation import check_filename, check_repo, check_revision

_COMMIT = re.compile(r"[0-9a-f]{40}")


def repo_folder(hf_home: Path, repo: str) -> Path:
    """The cache folder of a model repo: `<hf_home>/hub/models--owner--name`."""
    return hf_home / "hub" / f"models--{check_repo(repo).replace('/', '--')}"


def partial_path(hf_home: Path, key: str) -> Path:
    """A stable partial-file path for download `key`, beside (not inside) the hub cache.

    Outside `hub/` so `huggingface_hub.scan_cache_dir` does not report it as a corrupt repo;
    under the same `hf_home`, so the final move is a rename on one file system.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", key):
        raise ValueError("a partial key is letters, digits, '_' and '-'")
    return hf_home / "bodhi-partial" / f"{key}.part"


def place(
    hf_home: Path, remote: RemoteFile, repo: str, filename: str, revision: str, partial: Path
) -> Path:
    """Move the verified `partial` into the cache; the snapshot path huggingface_hub resolves."""
    storage = repo_folder(hf_home, repo)
    blob = storage / "blobs" / (remote.sha256 or remote.etag)
    pointer = storage / "snapshots" / remote.commit / check_filename(filename)
    check_revision(revision)
    blob.parent.mkdir(parents=True, exist_ok=True)
    _move(partial, blob)
    _fsync_dir(blob.parent)
    sidecar_path(partial).unlink(missing_ok=True)
    pointer.parent.mkdir(parents=True, exist_ok=True)
    _replace_with_symlink(pointer, os.path.relpath(blob, pointer.parent))
    if not _COMMIT.fullmatch(revision):
        ref = storage / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        _replace_with_text(ref, remote.commit)
    _fsync_dir(pointer.parent)
    return pointer


def cached_file(hf_home: Path, repo: str, filename: str, revision: str) -> Path | None:
    """The snapshot path of a file already in the cache (its blob present), else None."""
    storage = repo_folder(hf_home, repo)
    commit = revision
    if not _COMMIT.fullmatch(check_revision(revision)):
        try:
            commit = (storage / "refs" / revision).read_text().strip()
        except OSError:
            return None
        if not _COMMIT.fullmatch(commit):
            return None
    pointer = storage / "snapshots" / commit / check_filename(filename)
    return pointer if pointer.is_file() else None  # is_file follows the link to the blob


def _move(src: Path, dst: Path) -> None:
    """Rename into place; across file systems copy beside `dst` first, then rename."""
    try:
        src.replace(dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # the partial lives on another file system
            raise
        staged = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.tmp")
        shutil.copyfile(src, staged)
        staged.replace(dst)
        src.unlink()


def _replace_with_symlink(path: Path, target: str) -> None:
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    staged.symlink_to(target)
    staged.replace(path)


def _replace_with_text(path: Path, text: str) -> None:
    staged = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    staged.write_text(text)
    staged.replace(path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
