"""Shapes of the programs API (creator-hub-api "Program Builder API", "Enroll User in Program").

The flow itself (`flow_definition`) is checked by app/programs/flow.py, not here: its
problems come back per node ({node_id, field, message}) so the builder and API users
can show each one where it is.
"""

from marshmallow import fields, validate

from app.api.schemas import BaseSchema, PaginationQuerySchema, UTCDateTimeField, list_schema
from app.models import EnrollmentStatus, ProgramStatus

NOT_BLANK = validate.Regexp(r".*\S", error="Must not be blank.")
CHANNELS = ("web", "sms", "whatsapp", "api")

FLOW_DOC = {
    "description": 'The flow: {"nodes": [{"id", "type", "position": {"x", "y"}, "data"}], "edges": '
    '[{"id", "source", "target", "branch"?}]}. Node types: start, send_message {message, delay_hours?}, '
    "ask_question {question, choices?, save_to?, save_as?}, condition {field, operator, value?} with a "
    '"yes" and a "no" edge, ai_coach {goal}, wait {hours} or {until_time, weekday?}, award_badge '
    "{badge_id, message?}, end {message?}. A step with no edge out is the last one: the program is complete "
    "after it. Texts may hold {variables} with a {name|fallback}. "
    "At most 200 nodes and 400 edges.",
    "example": {
        "nodes": [
            {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
            {
                "id": "message_1",
                "type": "send_message",
                "position": {"x": 200, "y": 0},
                "data": {"message": "Welcome to the program, {first_name|friend}!", "delay_hours": 0},
            },
            {"id": "end", "type": "end", "position": {"x": 400, "y": 0}, "data": {}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "message_1"},
            {"id": "e2", "source": "message_1", "target": "end"},
        ],
    },
}
SETTINGS_DOC = {
    "description": "auto_enroll (new users join), widget_enroll (visitors may start it in the widget), "
    'enroll_keyword (texting it enrolls, e.g. RUN10K), completion_badge (a badge id), quiet_hours ({"start": '
    '"21:00", "end": "08:00"} in the user\'s time zone, or null). Unknown keys are dropped.',
    "example": {"auto_enroll": False, "widget_enroll": True, "completion_badge": None},
}


# --- Requests --------------------------------------------------------------------------


class ProgramCreateSchema(BaseSchema):
    name = fields.String(required=True, validate=[validate.Length(min=1, max=120), NOT_BLANK])
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    flow_definition = fields.Dict(
        load_default=None, metadata=FLOW_DOC | {"description": FLOW_DOC["description"] + " Default: start → end."}
    )
    settings = fields.Dict(load_default=None, metadata=SETTINGS_DOC)


class ProgramUpdateSchema(BaseSchema):
    """Send what changes. A published program's flow and settings change its draft: publish to make them live."""

    name = fields.String(validate=[validate.Length(min=1, max=120), NOT_BLANK])
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    flow_definition = fields.Dict(metadata=FLOW_DOC)
    settings = fields.Dict(metadata=SETTINGS_DOC)


class ProgramQuerySchema(PaginationQuerySchema):
    class Meta(PaginationQuerySchema.Meta):
        exclude = ("sort", "order")  # programs come most recently changed first

    status = fields.String(load_default=None, validate=validate.OneOf(ProgramStatus.ALL))
    search = fields.String(
        load_default=None,
        validate=validate.Length(max=200),
        metadata={"description": "Part of the name or description"},
    )


class EnrollmentQuerySchema(PaginationQuerySchema):
    class Meta(PaginationQuerySchema.Meta):
        exclude = ("sort", "order", "search")  # newest enrollments first

    status = fields.String(load_default=None, validate=validate.OneOf(EnrollmentStatus.ALL))


class EnrollRequestSchema(BaseSchema):
    channel = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(CHANNELS),
        metadata={"description": "Where the program's messages go; default: the channel the user came from"},
    )


class BadgeSchema(BaseSchema):
    id = fields.UUID(dump_only=True)
    name = fields.String(required=True, validate=[validate.Length(min=1, max=80), NOT_BLANK])
    description = fields.String(allow_none=True, validate=validate.Length(max=300))
    icon = fields.String(allow_none=True, validate=validate.Length(max=16), metadata={"example": "🏅"})
    created_at = UTCDateTimeField(dump_only=True)


class BadgeQuerySchema(PaginationQuerySchema):
    class Meta(PaginationQuerySchema.Meta):
        exclude = ("sort", "order", "search")  # by name


# --- Responses -------------------------------------------------------------------------


class ProgramVersionField(fields.Integer):
    """A program's version: its latest published one, or 1 for a program never published (the
    version its first publish makes), as the source answers for a new program."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(value or 1, attr, obj, **kwargs)


class ProblemSchema(BaseSchema):
    node_id = fields.String(metadata={"description": "The node the problem is on, when it is on one"})
    edge_id = fields.String()
    field = fields.String(metadata={"example": "flow_definition.nodes.1.data.delay_hours"})
    message = fields.String()


class ValidationReportSchema(BaseSchema):
    valid = fields.Boolean()
    errors = fields.List(fields.Nested(ProblemSchema), metadata={"description": "Empty on a saved flow"})
    warnings = fields.List(
        fields.Nested(ProblemSchema),
        metadata={"description": "Saved anyway: e.g. a {variable} no user has, rendered blank or as its fallback"},
    )


class AnalyticsSchema(BaseSchema):
    total_enrollments = fields.Integer()
    active_enrollments = fields.Integer()
    completed_enrollments = fields.Integer()
    exited_enrollments = fields.Integer()
    completion_rate = fields.Float(metadata={"description": "completed / total, 0 to 1"})
    average_completion_time_days = fields.Float(allow_none=True)
    engagement_score = fields.Float(
        allow_none=True, metadata={"description": "Share of the program's questions answered (null: none asked)"}
    )


class DropOffSchema(BaseSchema):
    node_id = fields.String()
    type = fields.String()
    label = fields.String()
    reached = fields.Integer(metadata={"description": "Enrollments that ran this node"})
    current = fields.Integer(metadata={"description": "Active enrollments at this node now"})
    dropped = fields.Integer(metadata={"description": "Exited here, or stuck here for more than 3 days"})


class ProgramSummarySchema(BaseSchema):
    id = fields.UUID()
    name = fields.String()
    description = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "draft, published or archived"})
    version = ProgramVersionField(
        metadata={"description": "The latest published version; 1 (what the first publish makes) until then"}
    )
    has_unpublished_changes = fields.Boolean(metadata={"description": "The draft differs from the live version"})
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    published_at = UTCDateTimeField(allow_none=True)
    enrollment_count = fields.Integer()
    completion_rate = fields.Float()


class ProgramSchema(ProgramSummarySchema):
    flow_definition = fields.Dict(metadata={"description": "The draft flow (what the next publish freezes)"})
    settings = fields.Dict()
    validation = fields.Nested(ValidationReportSchema)


class ProgramDetailSchema(ProgramSchema):
    analytics = fields.Nested(AnalyticsSchema)
    drop_off = fields.List(
        fields.Nested(DropOffSchema), metadata={"description": "Per node of the live version, in flow order"}
    )


class ProgramStatusSchema(BaseSchema):
    id = fields.UUID()
    status = fields.String()
    published_at = UTCDateTimeField(allow_none=True)
    archived_at = UTCDateTimeField(allow_none=True)
    version = ProgramVersionField()


class ProgramAnalyticsSchema(BaseSchema):
    program_id = fields.UUID()
    analytics = fields.Nested(AnalyticsSchema)
    drop_off = fields.List(fields.Nested(DropOffSchema))


class VersionSchema(BaseSchema):
    id = fields.UUID()
    number = fields.Integer()
    published_at = UTCDateTimeField()
    published_by = fields.UUID(allow_none=True, metadata={"description": "The team member; null through an API key"})


class VersionDetailSchema(VersionSchema):
    flow_definition = fields.Dict()
    settings = fields.Dict()


class VersionListSchema(BaseSchema):
    versions = fields.List(fields.Nested(VersionSchema), metadata={"description": "Newest first"})


class EnrollmentSchema(BaseSchema):
    enrollment_id = fields.UUID(attribute="id")
    program_id = fields.UUID()
    version = fields.Integer(metadata={"description": "The version it runs on, until it finishes"})
    user_id = fields.UUID(attribute="end_user_id")
    user_label = fields.String()
    status = fields.String(metadata={"description": "active, completed or exited"})
    current_node_id = fields.String(allow_none=True)
    waiting_for = fields.String(metadata={"description": "ready (a step is due), answer (a question waits), none"})
    progress = fields.Float(metadata={"description": "0 to 1"})
    answers = fields.Dict(metadata={"description": "{question node id: answer}"})
    enrolled_via = fields.String(metadata={"description": "dashboard, api, widget, keyword or auto"})
    channel = fields.String()
    session_id = fields.String(
        allow_none=True,
        metadata={
            "description": "The conversation the program talks in: on the api channel, answer its "
            "questions with POST /api/v1/chat/messages and this session_id"
        },
    )
    enrolled_at = UTCDateTimeField()
    completed_at = UTCDateTimeField(allow_none=True)
    exit_reason = fields.String(allow_none=True)


class UserEnrollmentSchema(BaseSchema):
    """A user's enrollment as their detail shows it (creator-hub-api "Get User Details")."""

    enrollment_id = fields.UUID()
    program_id = fields.UUID()
    program_name = fields.String()
    status = fields.String()
    progress = fields.Float()
    current_node_id = fields.String(allow_none=True)
    channel = fields.String()
    enrolled_at = UTCDateTimeField()
    completed_at = UTCDateTimeField(allow_none=True)


class EarnedBadgeSchema(BaseSchema):
    badge_id = fields.UUID()
    badge_name = fields.String()
    icon = fields.String()
    program_id = fields.UUID(allow_none=True, metadata={"description": "The program that awarded it"})
    earned_at = UTCDateTimeField()


class EarnedBadgeListSchema(BaseSchema):
    badges = fields.List(fields.Nested(EarnedBadgeSchema))


ProgramListSchema = list_schema("programs", ProgramSummarySchema)
EnrollmentListSchema = list_schema("enrollments", EnrollmentSchema)
BadgeListSchema = list_schema("badges", BadgeSchema)
