"""Schema building blocks shared by every API resource.

The same marshmallow schemas validate requests and feed the OpenAPI document,
so a rule written here is both enforced and documented:

- a field the schema does not know is a 422 naming it (with a hint when it is
  a known field in another case style: customPrompt for custom_prompt);
- integers are 32-bit unless a field says otherwise (what the columns hold);
- a list's `limit` may also be sent as `per_page`, the sources' name for it.
"""

import re
from collections.abc import Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validate
from marshmallow.schema import SchemaMeta

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
BIGINT = validate.Range(min=0, max=2**63 - 1)  # for the few 64-bit counts (bytes), stated where they are


def _normalized(name: str) -> str:
    """customPrompt, custom-prompt and CUSTOM_PROMPT all become customprompt."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _bounded(field: fields.Field) -> None:
    """Give an Integer (also inside a List or Dict) 32-bit bounds unless it has its own."""
    if isinstance(field, fields.Integer):
        ranges = [v for v in field.validators if isinstance(v, validate.Range)]
        low = any(v.min is not None for v in ranges)
        high = any(v.max is not None for v in ranges)
        if not (low and high):
            field.validators.append(validate.Range(min=None if low else INT_MIN, max=None if high else INT_MAX))
    for inner in (getattr(field, "inner", None), getattr(field, "value_field", None)):
        if isinstance(inner, fields.Field):
            _bounded(inner)


class _BaseSchemaMeta(SchemaMeta):
    """Adds at declaration what every schema gets, so the OpenAPI document (which may read
    a schema class's declared fields) states it too: integer bounds and the per_page alias."""

    @classmethod
    def get_declared_fields(mcs, klass, cls_fields, inherited_fields, dict_cls=dict):
        declared = super().get_declared_fields(klass, cls_fields, inherited_fields, dict_cls)
        for field in declared.values():
            _bounded(field)
        limit = declared.get("limit")
        if "page" in declared and limit is not None and "per_page" not in declared:
            declared["per_page"] = fields.Integer(
                load_only=True,
                validate=list(limit.validators),
                metadata={"description": "Alias of `limit` (the name some clients use); send one of the two"},
            )
        return declared


class BaseSchema(Schema, metaclass=_BaseSchemaMeta):
    """What every request and response shape shares.

    Unknown fields (a typo, `customPrompt`, or `creator_id` smuggled into a body)
    are refused, each named, rather than dropped so the caller believes a change
    happened. Query strings are the exception: webargs ignores unknown query
    parameters (cache busters and the like).
    """

    class Meta:
        unknown = RAISE

    def __init__(self, *, only=None, **kwargs):
        if only is not None and "limit" in only and "per_page" in self._declared_fields:
            only = (*only, "per_page")  # a list narrowed to page and limit keeps the alias
        super().__init__(only=only, **kwargs)

    @pre_load
    def _one_of_limit_and_per_page(self, data, **kwargs):
        if "per_page" not in self.load_fields or not isinstance(data, Mapping):
            return data
        sent = set(data)  # webargs' query proxy answers `missing` for absent keys: ask for the keys
        if {"per_page", "limit"} <= sent and str(data["limit"]) != str(data["per_page"]):
            raise ValidationError("per_page is an alias of limit: send one of the two.", "per_page")
        return data

    @post_load
    def _per_page_is_limit(self, data, **kwargs):
        if data.get("per_page") is not None:
            data["limit"] = data.pop("per_page")
        return data

    def handle_error(self, error: ValidationError, data, *, many: bool, **kwargs):
        """Name each unknown field, and the known one it was probably meant to be."""
        if not isinstance(error.messages, dict) or not isinstance(data, Mapping):
            return
        sent = set(data)  # a JSON object, or webargs' proxy of a form (keys only: it answers `missing` for others)
        known = {field.data_key or name: field for name, field in self.fields.items()}
        by_style = {_normalized(key): key for key, field in known.items() if not field.dump_only}
        for key, messages in list(error.messages.items()):
            if key not in sent or messages != [self.error_messages["unknown"]]:
                continue
            if not isinstance(key, str):  # a multipart part whose name does not parse
                del error.messages[key]
                error.messages[""] = ["A form field has no readable name."]
            elif key in known:
                error.messages[key] = [f"{key} is read-only: it cannot be set."]
            elif (match := by_style.get(_normalized(key))) is not None:
                error.messages[key] = [f"Unknown field {key}: did you mean {match}?"]
            else:
                error.messages[key] = [f"Unknown field {key}."]


class UTCDateTimeField(fields.DateTime):
    """ISO 8601 in UTC with a `Z`, as the API conventions require."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.isoformat(timespec="seconds").replace("+00:00", "Z")


class PaginationQuerySchema(BaseSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    search = fields.String(load_default=None, validate=validate.Length(max=200))
    sort = fields.String(load_default=None)
    order = fields.String(load_default="desc", validate=validate.OneOf(["asc", "desc"]))


class PaginationSchema(Schema):
    page = fields.Integer()
    limit = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()


class ErrorDetailSchema(Schema):
    field = fields.String(allow_none=True)
    message = fields.String()


class ErrorBodySchema(Schema):
    code = fields.String(metadata={"example": "VALIDATION_ERROR"})
    message = fields.String()
    details = fields.Raw(metadata={"description": "Per-field errors [{field, message}] or an object"})
    request_id = fields.String()
    timestamp = fields.String(metadata={"example": "2026-01-01T00:00:00Z"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema)


class MessageSchema(Schema):
    message = fields.String()


def list_schema(name: str, item_schema) -> type[Schema]:
    """A `{"<things>": [...], "pagination": {...}}` response schema."""
    return Schema.from_dict(
        {name: fields.List(fields.Nested(item_schema)), "pagination": fields.Nested(PaginationSchema)},
        name=f"{item_schema.__name__.removesuffix('Schema')}List",
    )
