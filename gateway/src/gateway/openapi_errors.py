"""The OpenAPI document says what every error really looks like. Litestar documents a 400 in
its own shape ({status_code, detail, extra}) and nothing else, while every route answers errors
in our envelope ({"error": {message, type, code, param}}; Ollama's routes {"error", "code"}) with
many statuses (401, 403, 404, 413, 429, 503…). Each operation's error responses are rewritten to
that shape, and a `default` response covers the statuses it does not list."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema

_TEXT = Schema(type=OpenAPIType.STRING)
ENVELOPE = Schema(
    type=OpenAPIType.OBJECT,
    required=["error"],
    properties={
        "error": Schema(
            type=OpenAPIType.OBJECT,
            required=["message", "type", "code"],
            properties={"message": _TEXT, "type": _TEXT, "code": _TEXT, "param": _TEXT},
        )
    },
)
OLLAMA = Schema(
    type=OpenAPIType.OBJECT, required=["error"], properties={"error": _TEXT, "code": _TEXT}
)


def _error(schema: Schema, description: str) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=description, content={"application/json": OpenAPIMediaType(schema=schema)}
    )


def document_errors(app: Litestar) -> None:
    """Rewrite the app's (cached) OpenAPI document; call once every route is registered."""
    for path, item in (app.openapi_schema.paths or {}).items():
        schema = OLLAMA if path.startswith("/api/") else ENVELOPE
        for method in ("get", "put", "post", "delete", "patch", "head", "options"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses = operation.responses if operation.responses is not None else {}
            for status, response in list(responses.items()):
                if status[:1] in ("4", "5") and isinstance(response, OpenAPIResponse):
                    responses[status] = _error(schema, response.description)
            responses["default"] = _error(schema, "An error (the code says which)")
            operation.responses = responses
