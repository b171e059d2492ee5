"""The downloadable-model catalog: models.yaml shipped with the service, or BODHI_CATALOG_FILE."""

from __future__ import annotations

from pathlib import Path

import msgspec

from bodhi_common.errors import NotFound, StartupError
from model_svc.domain import CatalogModel

SHIPPED = Path(__file__).parent / "models.yaml"


class Catalog:
    """Catalog entries, read once at start-up (a malformed file stops the start)."""

    def __init__(self, path: Path | None = None) -> None:
        source = path or SHIPPED
        try:
            self.models = msgspec.yaml.decode(source.read_bytes(), type=list[CatalogModel])
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise StartupError(f"cannot read the model catalog {source}: {exc}") from None

    def find(self, alias: str) -> CatalogModel:
        """The first entry named `alias` (NotFound otherwise)."""
        for model in self.models:
            if model.alias == alias:
                return model
        raise NotFound(
            f"no model {alias!r} in the catalog", code="catalog_model_not_found", param="alias"
        )
