"""Shapes of the chat, session and memory API."""

from marshmallow import fields, validate

from app.api.schemas import BaseSchema, UTCDateTimeField

ID = validate.Length(min=1, max=200)


class ChatRequestSchema(BaseSchema):
    user_id = fields.String(required=True, validate=ID, metadata={"description": "Your id for the end user"})
    session_id = fields.String(required=True, validate=ID)
    message = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class SourceSchema(BaseSchema):
    type = fields.String(metadata={"description": "document (a passage of your knowledge) or faq (an FAQ entry)"})
    faq_id = fields.String()
    document_id = fields.String()
    document_title = fields.String()
    chunk_id = fields.String()
    chunk_index = fields.Integer()
    section = fields.String()
    score = fields.Float()
    snippet = fields.String()


class ReplySchema(BaseSchema):
    id = fields.UUID()
    text = fields.String(attribute="content")
    type = fields.Constant("text")
    answer_mode = fields.String(
        metadata={
            "description": "llm, extractive (offline: quoted from your passages), faq (an FAQ entry), "
            "fallback (escalated to a human), memory"
        }
    )
    confidence = fields.Float(allow_none=True)
    model = fields.String(allow_none=True)
    latency_ms = fields.Integer(allow_none=True)
    cached_response = fields.Boolean(metadata={"description": "reused from the response cache"})
    sources = fields.List(fields.Nested(SourceSchema))


class ChatResponseSchema(BaseSchema):
    response = fields.Nested(
        ReplySchema, allow_none=True, metadata={"description": "null while a human has the conversation"}
    )
    session_id = fields.String()
    conversation_id = fields.UUID()
    end_user_id = fields.UUID()
    status = fields.String()
    escalated = fields.Boolean()


class UserQuerySchema(BaseSchema):
    user_id = fields.String(required=True, validate=ID)


class TurnSchema(BaseSchema):
    role = fields.Function(lambda m: "user" if m.sender == "user" else "assistant" if m.sender == "ai" else m.sender)
    content = fields.String()
    created_at = UTCDateTimeField()


class MemorySchema(BaseSchema):
    id = fields.UUID(dump_only=True)
    key = fields.String(required=True, validate=validate.Length(min=1, max=100))
    value = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    type = fields.String(
        attribute="kind", data_key="type", load_default="fact", validate=validate.OneOf(["fact", "preference"])
    )
    source = fields.String(dump_only=True)
    created_at = UTCDateTimeField(dump_only=True)
    updated_at = UTCDateTimeField(dump_only=True)


class ContextSchema(BaseSchema):
    conversation_history = fields.List(fields.Nested(TurnSchema))
    memories = fields.List(fields.Nested(MemorySchema))


class SessionContextSchema(BaseSchema):
    session_id = fields.String()
    user_id = fields.String()
    end_user_id = fields.UUID()
    channel = fields.String()
    status = fields.String()
    context = fields.Nested(ContextSchema)
    last_interaction = UTCDateTimeField()


class MemoryListSchema(BaseSchema):
    user_id = fields.UUID()
    memories = fields.List(fields.Nested(MemorySchema))


class ResetSchema(BaseSchema):
    status = fields.String()
    message = fields.String()
    session_id = fields.String()


class TestChatSchema(BaseSchema):
    message = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    model = fields.String(validate=validate.Length(min=1, max=100))


class TestEmbeddingSchema(BaseSchema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    model = fields.String(validate=validate.Length(min=1, max=100))
