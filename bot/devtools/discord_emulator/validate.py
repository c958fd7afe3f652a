"""Validate request bodies against Discord's OpenAPI document, plus the limits it leaves out.

The document (``tests/specs/discord-v10.openapi.json``, from discord/discord-api-spec) is
loaded and indexed once per process. Discord's form parser is more forgiving than the
document in two ways real clients (discord.py included) rely on, so the validator is too:

* numeric strings are accepted where the document says integer (discord.py sends
  ``default_member_permissions`` as a string, as Discord's own docs describe it);
* integers are accepted where the document says snowflake string (allowed_mentions ids);
* the document writes nullable fields as ``oneOf: [null, X]`` and unions as ``oneOf``
  that overlap; Discord accepts a body matching any branch, so ``oneOf`` is read as ``anyOf``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parent.parent / "specs" / "discord-v10.openapi.json"
SPEC_URI = "urn:discord-api-spec:v10"

_INT_STRING = re.compile(r"^-?\d+$")
_NUMBER_STRING = re.compile(r"^-?\d+(\.\d+)?$")


def _lenient_type(
    validator: Any, types: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[Any]:
    """Check ``type`` the way Discord's form parser does: coercing ids and numeric strings."""
    types = [types] if isinstance(types, str) else list(types)
    if isinstance(instance, str):
        if "integer" in types and _INT_STRING.match(instance):
            return
        if "number" in types and _NUMBER_STRING.match(instance):
            return
    if (
        isinstance(instance, int)
        and not isinstance(instance, bool)
        and "string" in types
        and schema.get("format") == "snowflake"
    ):
        return
    yield from Draft202012Validator.VALIDATORS["type"](validator, types, instance, schema)


_LenientValidator = extend(
    Draft202012Validator,
    validators={"type": _lenient_type, "oneOf": Draft202012Validator.VALIDATORS["anyOf"]},
)


@dataclass(frozen=True)
class SpecOperation:
    """One path + method of the document, with its compiled request-body validator."""

    template: str
    method: str
    validator: Any | None


@dataclass
class FieldError:
    """One entry of Discord's ``errors`` tree: where, which code, what message."""

    path: tuple[str, ...]
    code: str
    message: str


@dataclass
class ValidationFailure:
    """A request the emulator rejected with 400 Invalid Form Body."""

    method: str
    path: str
    template: str | None
    body: Any
    errors: list[FieldError] = field(default_factory=list)

    def error_tree(self) -> dict[str, Any]:
        """Return the errors nested the way Discord nests them in a 50035 answer."""
        return error_tree(self.errors)

    def messages(self) -> list[str]:
        """Return one readable line per field error, like ``embeds.0.title: Must be ...``."""
        return [f"{'.'.join(e.path) or '<root>'}: {e.message}" for e in self.errors]


def error_tree(errors: list[FieldError]) -> dict[str, Any]:
    """Nest field errors as ``{"embeds": {"0": {"title": {"_errors": [...]}}}}``."""
    tree: dict[str, Any] = {}
    for err in errors:
        node = tree
        for part in err.path:
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": err.code, "message": err.message})
    return tree


def _template_regex(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "/?$")


def _rewrite_refs(node: Any) -> Any:
    """Point the request schema's local ``#/…`` refs at the registered document."""
    if isinstance(node, dict):
        return {
            k: (
                SPEC_URI + v
                if k == "$ref" and isinstance(v, str) and v.startswith("#")
                else _rewrite_refs(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


class DiscordSpec:
    """Discord's OpenAPI document, indexed by path template and method."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry = Registry().with_resource(SPEC_URI, resource)
        self._routes: list[tuple[re.Pattern[str], str, int]] = []
        for template in document["paths"]:
            n_params = template.count("{")
            self._routes.append((_template_regex(template), template, n_params))
        # A literal segment (/users/@me, /messages/@original) beats a parameter.
        self._routes.sort(key=lambda r: r[2])
        self._operations: dict[tuple[str, str], SpecOperation] = {}
        self._components: dict[str, Any] = {}

    def match(self, path: str) -> str | None:
        """Return the document's path template for a concrete path below /api/v10."""
        for regex, template, _ in self._routes:
            if regex.match(path):
                return template
        return None

    def operation(self, template: str, method: str) -> SpecOperation | None:
        """Return the operation for a template and method, compiling its validator once."""
        key = (template, method.lower())
        if key in self._operations:
            return self._operations[key]
        item = self.document["paths"].get(template, {})
        op = item.get(method.lower())
        if op is None:
            return None
        validator = None
        body = op.get("requestBody", {}).get("content", {})
        schema = (body.get("application/json") or {}).get("schema")
        if schema is not None:
            validator = _LenientValidator(_rewrite_refs(schema), registry=self._registry)
        result = SpecOperation(template=template, method=method.upper(), validator=validator)
        self._operations[key] = result
        return result

    def validate_component(self, name: str, body: Any) -> list[FieldError]:
        """Validate a body against one named schema of ``components/schemas``."""
        validator = self._components.get(name)
        if validator is None:
            ref = {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}
            validator = self._components[name] = _LenientValidator(ref, registry=self._registry)
        return [_field_error(leaf) for e in validator.iter_errors(body) for leaf in _leaves(e)]

    def validate_body(self, template: str, method: str, body: Any) -> list[FieldError]:
        """Validate a JSON body against the operation's request schema; return field errors."""
        op = self.operation(template, method)
        if op is None or op.validator is None:
            return []
        return [_field_error(leaf) for e in op.validator.iter_errors(body) for leaf in _leaves(e)]


@functools.cache
def load_spec(path: Path = SPEC_PATH) -> DiscordSpec:
    """Load and index Discord's OpenAPI document (once per process)."""
    with path.open(encoding="utf-8") as fh:
        return DiscordSpec(json.load(fh))


def _leaves(error: ValidationError) -> list[ValidationError]:
    """Descend a failed union into the branch that got furthest into the body.

    A callback body is an ``anyOf`` of seven shapes; the useful error is the one from the
    shape the body was meant to be (the deepest failure), not "valid under none of".
    """
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
    candidates = []
    for subs in branches.values():
        leaves = [leaf for sub in subs for leaf in _leaves(sub)]
        depth = max(len(leaf.absolute_path) for leaf in leaves)
        candidates.append(((depth, -len(leaves)), leaves))
    return max(candidates, key=lambda c: c[0])[1]


def _field_error(error: ValidationError) -> FieldError:
    path = tuple(str(p) for p in error.absolute_path)
    kind = error.validator
    value = error.validator_value
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return FieldError(
            path + ((missing,) if missing else ()), "BASE_TYPE_REQUIRED", "This field is required"
        )
    if kind in ("maxLength", "maxItems"):
        return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {value} or fewer in length.")
    if kind in ("minLength", "minItems"):
        return FieldError(path, "BASE_TYPE_MIN_LENGTH", f"Must be {value} or more in length.")
    if kind in ("maximum", "exclusiveMaximum"):
        return FieldError(
            path, "NUMBER_TYPE_MAX", f"int value should be less than or equal to {value}."
        )
    if kind in ("minimum", "exclusiveMinimum"):
        return FieldError(
            path, "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {value}."
        )
    if kind == "enum":
        return FieldError(path, "BASE_TYPE_CHOICES", f"Value must be one of {tuple(value)}.")
    if kind == "type":
        return FieldError(path, "BASE_TYPE_BAD_TYPE", f"Must be of type {value}: {error.message}")
    return FieldError(path, "BASE_TYPE_INVALID", error.message)


# --- limits Discord enforces that the document does not fully state -----------------------

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
_EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}
_FIELD_LIMITS = {"name": 256, "value": 1024}
_URL_SCHEMES = ("http", "https")
_MEDIA_SCHEMES = ("http", "https", "attachment")


def _check_url(path: tuple[str, ...], value: Any, schemes: tuple[str, ...]) -> list[FieldError]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [FieldError(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")]
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        return [
            FieldError(
                path,
                "URL_TYPE_INVALID_SCHEME",
                f'Scheme "{parts.scheme}" is not supported. Scheme must be one of {schemes}.',
            )
        ]
    if parts.scheme != "attachment" and not parts.netloc:
        return [FieldError(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")]
    return []


def _too_long(path: tuple[str, ...], value: Any, limit: int) -> list[FieldError]:
    if isinstance(value, str) and len(value) > limit:
        return [FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")]
    return []


def check_message_limits(body: Any, prefix: tuple[str, ...] = ()) -> list[FieldError]:
    """Check content, embed and URL limits on a message-like body (create, edit, webhook)."""
    if not isinstance(body, dict):
        return []
    errors = _too_long(prefix + ("content",), body.get("content"), CONTENT_MAX)
    embeds = body.get("embeds")
    if not isinstance(embeds, list):
        return errors
    if len(embeds) > EMBEDS_MAX:
        errors.append(
            FieldError(
                prefix + ("embeds",),
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {EMBEDS_MAX} or fewer in length.",
            )
        )
    total = 0
    for i, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            continue
        at = prefix + ("embeds", str(i))
        for key, limit in _EMBED_TEXT_LIMITS.items():
            errors += _too_long(at + (key,), embed.get(key), limit)
            total += len(embed.get(key) or "")
        errors += _check_url(at + ("url",), embed.get("url"), _URL_SCHEMES)
        for media in ("image", "thumbnail", "video"):
            if isinstance(embed.get(media), dict):
                errors += _check_url(at + (media, "url"), embed[media].get("url"), _MEDIA_SCHEMES)
        author = embed.get("author")
        if isinstance(author, dict):
            errors += _too_long(at + ("author", "name"), author.get("name"), 256)
            total += len(author.get("name") or "")
            errors += _check_url(at + ("author", "url"), author.get("url"), _URL_SCHEMES)
            errors += _check_url(
                at + ("author", "icon_url"), author.get("icon_url"), _MEDIA_SCHEMES
            )
        footer = embed.get("footer")
        if isinstance(footer, dict):
            errors += _too_long(at + ("footer", "text"), footer.get("text"), 2048)
            total += len(footer.get("text") or "")
            errors += _check_url(
                at + ("footer", "icon_url"), footer.get("icon_url"), _MEDIA_SCHEMES
            )
        fields = embed.get("fields") or []
        if isinstance(fields, list):
            if len(fields) > 25:
                errors.append(
                    FieldError(
                        at + ("fields",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                    )
                )
            for j, fld in enumerate(fields):
                if not isinstance(fld, dict):
                    continue
                for key, limit in _FIELD_LIMITS.items():
                    value = fld.get(key)
                    if not value:
                        errors.append(
                            FieldError(
                                at + ("fields", str(j), key),
                                "BASE_TYPE_REQUIRED",
                                "This field is required",
                            )
                        )
                    errors += _too_long(at + ("fields", str(j), key), value, limit)
                    total += len(value or "") if isinstance(value, str) else 0
    if total > EMBED_TOTAL_MAX:
        errors.append(
            FieldError(
                prefix + ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}",
            )
        )
    return errors


def dedupe(errors: list[FieldError]) -> list[FieldError]:
    """Drop repeated (path, code) pairs; the schema and the limits may both flag a field."""
    seen: set[tuple[tuple[str, ...], str]] = set()
    out = []
    for err in errors:
        key = (err.path, err.code)
        if key not in seen:
            seen.add(key)
            out.append(err)
    return out
