"""GGUF metadata (architecture, parameter count, context length, quantisation, chat template),
read with the `gguf` package in a thread (it memory-maps the file) and cached in the database by
the file's path, size and modification time."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bodhi_common.errors import DataLoss
from model_svc.alias_store import AliasStore
from model_svc.domain import ModelMetadata

if TYPE_CHECKING:
    import gguf


class MetadataReader:
    """Metadata of local GGUF files, cached."""

    def __init__(self, aliases: AliasStore) -> None:
        self._aliases = aliases

    async def read(self, path: str) -> ModelMetadata:
        """The metadata of one file (DataLoss when it is not a readable GGUF)."""
        stat = await asyncio.to_thread(os.stat, path)
        cached = await self._aliases.cached_metadata(path, stat.st_size, stat.st_mtime_ns)
        if cached is not None:
            return cached
        meta = await asyncio.to_thread(parse, path)
        await self._aliases.cache_metadata(path, stat.st_size, stat.st_mtime_ns, meta)
        return meta


def parse(path: str) -> ModelMetadata:
    """Read the metadata of a GGUF file."""
    # Imported on first use: gguf loads numpy, 12 MB of resident memory a model-svc that is
    # not asked for metadata never needs (PERFORMANCE.md P9).
    import gguf

    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, OSError, IndexError) as exc:
        raise DataLoss(
            f"{Path(path).name} is not a readable GGUF file", code="gguf_unreadable"
        ) from exc
    fields = {name: _value(field) for name, field in reader.fields.items()}
    arch = str(fields.get("general.architecture") or "")
    file_type = fields.get("general.file_type")
    return ModelMetadata(
        name=_str(fields.get("general.name")),
        architecture=arch,
        parameter_count=_int(fields.get("general.parameter_count")) or _count(reader),
        context_length=_int(fields.get(f"{arch}.context_length")),
        quantization=_quantization(file_type),
        chat_template=_str(fields.get("tokenizer.chat_template")),
        file_size=Path(path).stat().st_size,
    )


def _value(field: Any) -> Any:
    try:
        return field.contents()
    except (ValueError, IndexError, TypeError):
        return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int) else None


def _count(reader: gguf.GGUFReader) -> int | None:
    total = sum(int(t.n_elements) for t in reader.tensors)
    return total or None


def _quantization(file_type: Any) -> str:
    if not isinstance(file_type, int):
        return ""
    import gguf  # loaded by parse already

    try:
        return gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"type {file_type}"
