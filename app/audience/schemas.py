"""Shapes of the users, imports and segments API (creator-hub-api "User Management",
event-stream-engine-api "User Management" and "Segment Management")."""

from marshmallow import fields, validate

from app.api.schemas import BaseSchema, PaginationQuerySchema, UTCDateTimeField, list_schema
from app.assistant.schemas import MemorySchema
from app.audience.services import CHANNELS, E164, SORTS, TIMEZONES, phone_error
from app.models import ConsentState
from app.programs.schemas import EarnedBadgeSchema, UserEnrollmentSchema

CONSENT = validate.OneOf(ConsentState.ALL)


class UserQuerySchema(PaginationQuerySchema):
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    status = fields.String(load_default=None, validate=validate.OneOf(["active", "inactive"]))
    consent_state = fields.String(load_default=None, validate=CONSENT)
    tag = fields.String(load_default=None, validate=validate.Length(max=60))
    sort = fields.String(load_default="created_at", validate=validate.OneOf(list(SORTS)))
    search = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "Part of the name, an external id, the phone or the e-mail"},
    )


class LookupQuerySchema(BaseSchema):
    phone = fields.String(
        required=True,
        validate=validate.Regexp(E164, error=phone_error("")),
        metadata={"description": "E.164, e.g. +14155551234 (encode + as %2B)"},
    )


class UserWriteSchema(BaseSchema):
    """Create: phone_e164 or external_id is required. Update: send what changes."""

    phone_e164 = fields.String(
        allow_none=False,
        validate=validate.Regexp(E164, error=phone_error("")),
        metadata={"example": "+14155551234"},
    )
    external_id = fields.String(validate=validate.Length(min=1, max=200))
    display_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    consent_state = fields.String(validate=CONSENT)
    attributes = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=100)),
        metadata={"description": "Your own fields (city, tier…); on update they merge, a null value removes one"},
    )
    profile_data = fields.Dict(metadata={"description": "Replaced as a whole on update"})
    tags = fields.List(fields.String(validate=validate.Length(min=1, max=60)), validate=validate.Length(max=100))
    timezone = fields.String(
        allow_none=True,
        validate=validate.OneOf(
            sorted(TIMEZONES), error="Unknown timezone {input}: use an IANA name such as America/New_York."
        ),
        metadata={"example": "America/New_York"},
    )
    language = fields.String(allow_none=True, validate=validate.Length(max=10))
    is_active = fields.Boolean()


class LinkSchema(BaseSchema):
    other_user_id = fields.UUID(required=True, metadata={"description": "The user merged into this one (then deleted)"})


class UserSummarySchema(BaseSchema):
    id = fields.UUID()
    external_id = fields.String(attribute="user.external_id")
    channel = fields.String(attribute="user.channel")
    display_name = fields.String(attribute="user.display_name", allow_none=True)
    label = fields.String(metadata={"description": "The name the dashboard shows"})
    phone_e164 = fields.String(attribute="user.phone_e164", allow_none=True)
    email = fields.String(attribute="user.email", allow_none=True)
    profile_data = fields.Dict(attribute="user.profile_data")
    attributes = fields.Dict(attribute="user.attributes")
    tags = fields.List(fields.String())
    consent_state = fields.String(attribute="user.consent_state")
    consent_updated_at = UTCDateTimeField(attribute="user.consent_updated_at", allow_none=True)
    timezone = fields.String(attribute="user.timezone", allow_none=True)
    language = fields.String(attribute="user.language", allow_none=True)
    is_active = fields.Boolean(attribute="user.is_active")
    engagement_score = fields.Float(attribute="user.engagement_score")
    last_active_at = UTCDateTimeField(attribute="user.last_active_at", allow_none=True)
    created_at = UTCDateTimeField(attribute="user.created_at")
    total_interactions = fields.Integer(metadata={"description": "Messages exchanged, across conversations"})
    program_enrollments = fields.Integer(metadata={"description": "Programs the user is enrolled in now"})


class IdentitySchema(BaseSchema):
    channel = fields.String()
    external_id = fields.String()
    created_at = UTCDateTimeField()


class ConsentEventSchema(BaseSchema):
    state = fields.String()
    previous_state = fields.String(allow_none=True)
    source = fields.String(metadata={"description": "keyword, api, dashboard, import, link, twilio_21610"})
    detail = fields.String(allow_none=True)
    created_at = UTCDateTimeField()


class InteractionSchema(BaseSchema):
    id = fields.UUID()
    conversation_id = fields.UUID()
    interaction_type = fields.String(metadata={"description": "message_received (from the user) or message_sent"})
    sender = fields.String()
    text = fields.String()
    channel = fields.String()
    created_at = UTCDateTimeField()


class UserDetailSchema(UserSummarySchema):
    identities = fields.List(fields.Nested(IdentitySchema), metadata={"description": "Every channel address"})
    consent_history = fields.List(fields.Nested(ConsentEventSchema), metadata={"description": "Newest first"})
    memories = fields.List(fields.Nested(MemorySchema))
    recent_interactions = fields.List(fields.Nested(InteractionSchema), metadata={"description": "Last 20 messages"})
    program_enrollments = fields.List(
        fields.Nested(UserEnrollmentSchema), metadata={"description": "Every enrollment, newest first"}
    )
    badges_earned = fields.List(fields.Nested(EarnedBadgeSchema), metadata={"description": "Oldest first"})


class ImportErrorSchema(BaseSchema):
    row = fields.Integer(metadata={"description": "CSV line (header = 1) or JSON position (from 1)"})
    field = fields.String(allow_none=True)
    message = fields.String()


class UserImportSchema(BaseSchema):
    id = fields.UUID()
    filename = fields.String()
    file_format = fields.String()
    status = fields.String(metadata={"description": "pending, processing, completed or failed"})
    total_rows = fields.Integer(allow_none=True)
    processed_rows = fields.Integer()
    created = fields.Integer(attribute="created_count")
    updated = fields.Integer(attribute="updated_count")
    error_count = fields.Integer(metadata={"description": "Rows refused, exact"})
    errors = fields.List(fields.Nested(ImportErrorSchema), metadata={"description": "The first 1000"})
    failure = fields.String(allow_none=True, metadata={"description": "Why the whole file was refused"})
    created_at = UTCDateTimeField()
    finished_at = UTCDateTimeField(allow_none=True)


class UploadSchema(BaseSchema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class SegmentSchema(BaseSchema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    filter_criteria = fields.Dict(
        required=True,
        metadata={
            "description": 'A group {"operator": "AND"|"OR", "conditions": [...]} of conditions '
            '{"attribute", "operator", "value"} or groups (5 deep, 50 conditions at most)',
            "example": {
                "operator": "AND",
                "conditions": [
                    {"attribute": "city", "operator": "equals", "value": "Austin"},
                    {"attribute": "tags", "operator": "has", "value": "vip"},
                ],
            },
        },
    )
    estimated_audience_size = fields.Integer(dump_only=True, allow_none=True)
    evaluated_at = UTCDateTimeField(dump_only=True, allow_none=True)
    created_at = UTCDateTimeField(dump_only=True)
    updated_at = UTCDateTimeField(dump_only=True)


class SegmentUpdateSchema(SegmentSchema):
    """Send what changes."""

    name = fields.String(validate=validate.Length(min=1, max=120))
    filter_criteria = fields.Dict(metadata=SegmentSchema._declared_fields["filter_criteria"].metadata)


class SampleUserSchema(BaseSchema):
    id = fields.UUID()
    phone_e164 = fields.String(allow_none=True)
    label = fields.String()


class EvaluationSchema(BaseSchema):
    segment_id = fields.UUID()
    matching_users = fields.Integer()
    sample_users = fields.List(fields.Nested(SampleUserSchema), metadata={"description": "Up to 10, newest first"})
    evaluation_time_ms = fields.Float()


UserListSchema = list_schema("users", UserSummarySchema)
SegmentListSchema = list_schema("segments", SegmentSchema)
ImportListSchema = list_schema("imports", UserImportSchema)
