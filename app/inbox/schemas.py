"""Request and response shapes of the inbox API (conversations, messages, takeover)."""

import uuid

from marshmallow import ValidationError, fields, validate

from app.api.schemas import BaseSchema, PaginationQuerySchema, UTCDateTimeField, list_schema
from app.assistant.schemas import MemorySchema, SourceSchema
from app.inbox.services import CHANNELS, ME, OPEN, PREVIEW_CHARS, STATUSES, UNASSIGNED


def _assignee(value: str) -> None:
    if value in (ME, UNASSIGNED):
        return
    try:
        uuid.UUID(value)
    except ValueError as error:
        raise ValidationError("Use a member id, 'me' or 'unassigned'.") from error


class ConversationQuerySchema(PaginationQuerySchema):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf([*STATUSES, OPEN]),
        metadata={"description": "active, waiting_for_human, with_agent, closed, or open (all but closed)"},
    )
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    assignee = fields.String(
        load_default=None, validate=_assignee, metadata={"description": "A member id, 'me' or 'unassigned'"}
    )


class MessagePageQuerySchema(BaseSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))


class EndUserSummarySchema(BaseSchema):
    id = fields.UUID()
    external_id = fields.String()
    display_name = fields.String(allow_none=True)
    channel = fields.String()


class EndUserProfileSchema(EndUserSummarySchema):
    email = fields.String(allow_none=True)
    timezone = fields.String(allow_none=True)
    language = fields.String(allow_none=True)
    profile_data = fields.Dict()
    last_active_at = UTCDateTimeField(allow_none=True)
    created_at = UTCDateTimeField()


class AssigneeSchema(BaseSchema):
    id = fields.UUID()
    full_name = fields.String()


class MessagePreviewSchema(BaseSchema):
    sender = fields.String()
    text = fields.Function(lambda m: m.content[:PREVIEW_CHARS])
    created_at = UTCDateTimeField()


class ConversationSchema(BaseSchema):
    id = fields.UUID()
    end_user = fields.Nested(EndUserSummarySchema)
    channel = fields.String()
    session_id = fields.String()
    status = fields.String(metadata={"description": "active, waiting_for_human, with_agent or closed"})
    assigned_member = fields.Nested(AssigneeSchema, allow_none=True)
    escalation_reason = fields.String(allow_none=True)
    last_message_at = UTCDateTimeField()
    last_message = fields.Nested(MessagePreviewSchema, allow_none=True)
    message_count = fields.Integer(metadata={"description": "Messages of the user, the AI and agents"})
    created_at = UTCDateTimeField()


class ConversationDetailSchema(ConversationSchema):
    end_user = fields.Nested(EndUserProfileSchema)
    close_reason = fields.String(allow_none=True)
    summary = fields.String(allow_none=True)
    memories = fields.List(fields.Nested(MemorySchema))


class InboxMessageSchema(BaseSchema):
    id = fields.UUID()
    sender = fields.String(metadata={"description": "user, ai, agent or system"})
    text = fields.String(attribute="content")
    answer_mode = fields.String(allow_none=True)
    sources = fields.List(fields.Nested(SourceSchema))
    confidence = fields.Float(allow_none=True)
    member_id = fields.UUID(allow_none=True)
    created_at = UTCDateTimeField()


class AgentReplySchema(BaseSchema):
    message = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class HandoverActionSchema(BaseSchema):
    action = fields.String(required=True, validate=validate.OneOf(["take_over", "hand_back"]))


class CloseConversationSchema(BaseSchema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "resolved, no_response, transferred, spam, other, or your own"},
    )
    summary = fields.String(load_default=None, validate=validate.Length(max=5000))


ConversationListSchema = list_schema("conversations", ConversationSchema)
MessageListSchema = list_schema("messages", InboxMessageSchema)
