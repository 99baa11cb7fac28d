"""Shapes of the FAQ and response-cache API (omnichannel-platform-api "FAQ API", "Cache API")."""

from marshmallow import fields, validate

from app.api.schemas import BaseSchema, PaginationQuerySchema, PaginationSchema, UTCDateTimeField
from app.faq.services import MAX_VARIANTS
from app.models import FaqStatus

STATUSES = [FaqStatus.PUBLISHED, FaqStatus.DRAFT]


class FaqEntrySchema(BaseSchema):
    id = fields.UUID(dump_only=True)
    question = fields.String(required=True, validate=validate.Length(min=3, max=500))
    answer = fields.String(load_default="", validate=validate.Length(max=4000))
    category = fields.String(allow_none=True, validate=validate.Length(max=100))
    question_variants = fields.List(
        fields.String(validate=validate.Length(min=1, max=500)),
        load_default=list,
        validate=validate.Length(max=MAX_VARIANTS),
    )
    status = fields.String(
        load_default=FaqStatus.PUBLISHED,
        validate=validate.OneOf(STATUSES),
        metadata={"description": "published entries answer visitors; drafts wait for review"},
    )
    source = fields.String(dump_only=True, metadata={"description": "manual or extracted"})
    frequency = fields.Integer(dump_only=True, allow_none=True)
    confidence = fields.Float(dump_only=True, allow_none=True)
    hits = fields.Integer(dump_only=True)
    last_hit_at = UTCDateTimeField(dump_only=True, allow_none=True)
    created_at = UTCDateTimeField(dump_only=True)
    updated_at = UTCDateTimeField(dump_only=True)


class FaqUpdateSchema(FaqEntrySchema):
    """Every field optional: send what changes."""

    class Meta(FaqEntrySchema.Meta):
        partial = True

    question = fields.String(validate=validate.Length(min=3, max=500))
    answer = fields.String(validate=validate.Length(max=4000))
    question_variants = fields.List(
        fields.String(validate=validate.Length(min=1, max=500)), validate=validate.Length(max=MAX_VARIANTS)
    )
    status = fields.String(validate=validate.OneOf(STATUSES))


class FaqQuerySchema(PaginationQuerySchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))


class FaqListSchema(BaseSchema):
    faqs = fields.List(fields.Nested(FaqEntrySchema))
    pagination = fields.Nested(PaginationSchema)


class ExtractRequestSchema(BaseSchema):
    min_frequency = fields.Integer(load_default=5, validate=validate.Range(min=2, max=10_000))
    max_results = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))


class ExtractResultSchema(BaseSchema):
    extracted = fields.Integer()
    faqs = fields.List(fields.Nested(FaqEntrySchema))


class ChannelCacheSchema(BaseSchema):
    answers = fields.Integer()
    cache_hits = fields.Integer()
    hit_rate = fields.Float()


class TopQuerySchema(BaseSchema):
    query = fields.String()
    hits = fields.Integer()


class CacheStatsSchema(BaseSchema):
    total_cached = fields.Integer()
    total_hits = fields.Integer()
    hit_rate = fields.Float(metadata={"description": "percent of cacheable AI answers served from the cache"})
    period_days = fields.Integer()
    by_channel = fields.Dict(keys=fields.String(), values=fields.Nested(ChannelCacheSchema))
    top_queries = fields.List(fields.Nested(TopQuerySchema))


class CacheStatsQuerySchema(BaseSchema):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))


class WarmRequestSchema(BaseSchema):
    queries = fields.List(
        fields.String(validate=validate.Length(min=3, max=500)), required=True, validate=validate.Length(min=1, max=50)
    )


class WarmResultSchema(BaseSchema):
    queued = fields.Integer()
    job_id = fields.String()


class ClearResultSchema(BaseSchema):
    cleared = fields.Integer()
