"""Schema building blocks shared by every API resource.

The same marshmallow schemas validate requests and feed the OpenAPI document.
"""

from marshmallow import EXCLUDE, Schema, fields, validate


class BaseSchema(Schema):
    """Unknown fields (say `creator_id` or `role` smuggled into a body) are ignored."""

    class Meta:
        unknown = EXCLUDE


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
