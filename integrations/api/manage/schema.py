"""drf-spectacular hooks: the schema describes the management API only (the webhooks have
their own callers and docs), and every operation lists the errors it can answer."""

ERROR_COMPONENT = {
    "type": "object",
    "description": "Every error: a code and the reason; field errors under `detail`.",
    "properties": {
        "error": {"type": "string"},
        "detail": {
            "oneOf": [
                {"type": "string"},
                {"type": "object", "additionalProperties": True},
                {"type": "array"},
            ]
        },
    },
    "required": ["error", "detail"],
}
ERRORS = {
    "400": "Invalid parameter or body: `detail` names each field and its problems.",
    "401": "No token, or an unknown or revoked one.",
    "403": "The token's user is not active staff, or lacks the model's permission.",
    "404": "No such object among the user's accounts.",
    "405": "Method not allowed.",
    "406": "Not acceptable: the API answers JSON only.",
    "415": "Unsupported media type: send JSON.",
    "429": "Too many requests: wait `Retry-After` seconds.",
}
# Only where an action may find the object in a state that does not allow it.
CONFLICT = "Conflict: the object's state does not allow this (see `detail`)."


def only_management_api(endpoints, **kwargs):
    return [e for e in endpoints if e[0].startswith("/api/v1/")]


def add_error_responses(result, generator, request, public):
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_COMPONENT
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, description in ERRORS.items():
                if status == "415" and method in ("get", "delete"):
                    continue
                responses.setdefault(status, {"description": description, "content": error})
            if method in ("post", "delete"):
                responses.setdefault("409", {"description": CONFLICT, "content": error})
            if "429" in responses:
                responses["429"].setdefault(
                    "headers", {"Retry-After": {"schema": {"type": "integer"}}}
                )
    return result
