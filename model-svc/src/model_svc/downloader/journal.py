"""The parts of a file and the sidecar that records how much of each is safely on disk."""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path

import msgspec

from model_svc.downloader.remote import RemoteFile

_VERSION = 1
#: Upper bound on a part, so parallel workers stay close together in the file and the bytes the
#: hasher re-reads from disk were written moments before (still in the page cache).
PART_MAX_BYTES = 16 * 1024 * 1024


class Part(msgspec.Struct, kw_only=True):
    """Bytes [start, end) of the file, of which the first `done` have arrived (or, in the disk
    thread's copy, are written)."""

    start: int
    end: int
    done: int = 0

    @property
    def offset(self) -> int:
        """The next byte this part needs."""
        return self.start + self.done

    @property
    def complete(self) -> bool:
        """No byte of this part is missing."""
        return self.offset >= self.end


class _Sidecar(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    size: int
    etag: str
    parts: list[tuple[int, int, int]]  # (start, end, done) per part, in file order


def sidecar_path(partial: Path) -> Path:
    """Where the sidecar of a partial file lives."""
    return partial.with_name(partial.name + ".json")


def plan_parts(size: int, *, ranged: bool, parts: int, part_min_bytes: int) -> list[Part]:
    """Split a file into parts: one when small or unranged, else parts several per worker."""
    if not ranged or parts <= 1 or size < 2 * part_min_bytes:
        return [Part(start=0, end=size)]
    part_bytes = min(max(math.ceil(size / (parts * 4)), part_min_bytes), PART_MAX_BYTES)
    count = math.ceil(size / part_bytes)
    bounds = [size * i // count for i in range(count + 1)]
    return [Part(start=a, end=b) for a, b in itertools.pairwise(bounds)]


def recorded_parts(partial: Path, remote: RemoteFile) -> list[Part] | None:
    """The parts the sidecar records for this same remote file, or None when it cannot be used."""
    try:
        sidecar = msgspec.json.decode(sidecar_path(partial).read_bytes(), type=_Sidecar)
        on_disk = partial.stat().st_size
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    parts = [Part(start=s, end=e, done=d) for s, e, d in sidecar.parts]
    same = sidecar.version == _VERSION and (sidecar.size, sidecar.etag) == (
        remote.size,
        remote.etag,
    )
    tiled = bool(parts) and parts[0].start == 0 and parts[-1].end == remote.size
    tiled = tiled and all(a.end == b.start for a, b in itertools.pairwise(parts))
    sane = all(0 <= p.done <= p.end - p.start and p.offset <= on_disk for p in parts if p.done)
    return parts if same and tiled and sane else None


def discard(partial: Path) -> None:
    """Delete a partial file and its sidecar (the next fetch starts from zero)."""
    sidecar_path(partial).unlink(missing_ok=True)
    partial.unlink(missing_ok=True)


def write_sidecar(partial: Path, remote: RemoteFile, parts: list[Part]) -> None:
    """Atomically replace the sidecar with `parts` (fsync the partial's data first)."""
    sidecar = _Sidecar(
        version=_VERSION,
        size=remote.size,
        etag=remote.etag,
        parts=[(p.start, p.end, p.done) for p in parts],
    )
    target = sidecar_path(partial)
    staged = target.with_name(target.name + ".tmp")
    with staged.open("wb") as f:
        f.write(msgspec.json.encode(sidecar))
        f.flush()
        os.fsync(f.fileno())
    staged.replace(target)
