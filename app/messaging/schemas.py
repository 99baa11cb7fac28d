from marshmallow import fields, validate

from app.api.schemas import BaseSchema, PaginationSchema, UTCDateTimeField
from app.models.messaging import OutboxStatus

STATUSES = [
    OutboxStatus.QUEUED,
    OutboxStatus.SENDING,
    OutboxStatus.SENT,
    OutboxStatus.DELIVERED,
    OutboxStatus.READ,
    *OutboxStatus.FINAL[2:],
]


class OutboundMessageSchema(BaseSchema):
    id = fields.UUID()
    channel_id = fields.UUID(allow_none=True)
    end_user_id = fields.UUID(data_key="user_id", allow_none=True)
    conversation_id = fields.UUID(allow_none=True)
    source = fields.String()
    to_address = fields.String(data_key="to")
    from_address = fields.String(data_key="from", allow_none=True)
    body = fields.String()
    status = fields.String()
    provider_sid = fields.String(data_key="message_sid", allow_none=True)
    error_code = fields.String(allow_none=True)
    error_message = fields.String(allow_none=True)
    attempts = fields.Integer()
    next_attempt_at = UTCDateTimeField(allow_none=True)
    created_at = UTCDateTimeField()
    sent_at = UTCDateTimeField(allow_none=True)
    delivered_at = UTCDateTimeField(allow_none=True)
    status_updated_at = UTCDateTimeField(allow_none=True)


class OutboxQuerySchema(BaseSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(list(dict.fromkeys(STATUSES))))
    channel = fields.String(load_default=None, validate=validate.Length(max=40))
    user = fields.UUID(load_default=None)
    start_date = fields.DateTime(load_default=None)
    end_date = fields.DateTime(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class OutboxListSchema(BaseSchema):
    messages = fields.List(fields.Nested(OutboundMessageSchema))
    pagination = fields.Nested(PaginationSchema)


class StatusSummarySchema(BaseSchema):
    total = fields.Integer()
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    delivered = fields.Integer()
    failed = fields.Integer()
    blocked = fields.Integer()
    not_sent = fields.Integer()
    delivery_rate = fields.Float(allow_none=True)


class StatusReportSchema(BaseSchema):
    summary = fields.Nested(StatusSummarySchema)
    messages = fields.List(fields.Nested(OutboundMessageSchema))
    pagination = fields.Nested(PaginationSchema)


class InboundQuerySchema(BaseSchema):
    hours = fields.Integer(load_default=24, validate=validate.Range(min=1, max=24 * 90))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class InboundEventSchema(BaseSchema):
    id = fields.UUID()
    channel_id = fields.UUID()
    message_sid = fields.String()
    from_address = fields.String(data_key="from")
    to_address = fields.String(data_key="to")
    body = fields.String()
    kind = fields.String()
    end_user_id = fields.UUID(data_key="user_id", allow_none=True)
    conversation_id = fields.UUID(allow_none=True)
    received_at = UTCDateTimeField()
    processed_at = UTCDateTimeField(allow_none=True)


class InboundActivitySchema(BaseSchema):
    hours = fields.Integer()
    summary = fields.Dict(keys=fields.String(), values=fields.Integer())
    events = fields.List(fields.Nested(InboundEventSchema))
