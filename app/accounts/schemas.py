"""Request and response shapes of profile, AI config, API keys and team."""

from zoneinfo import available_timezones

from marshmallow import fields, validate, validates_schema

from app.api.schemas import BaseSchema, UTCDateTimeField, list_schema
from app.auth.passwords import MAX_LENGTH, MIN_LENGTH
from app.auth.schemas import POLICY, POLICY_PATTERN, CreatorSchema, MemberSchema, check_new_password
from app.models import Role

TONES = ["friendly", "professional", "encouraging", "direct", "playful", "empathetic"]


class ProfileUpdateSchema(BaseSchema):
    full_name = fields.String(validate=validate.Length(min=1, max=120))
    email = fields.Email(validate=validate.Length(max=254))
    company_name = fields.String(allow_none=True, validate=validate.Length(max=120))
    website = fields.URL(allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=500))
    timezone = fields.String(validate=validate.OneOf(sorted(available_timezones())))


class AIConfigSchema(BaseSchema):
    assistant_name = fields.String(validate=validate.Length(min=1, max=80))
    custom_prompt = fields.String(validate=validate.Length(max=4000))
    tone = fields.String(validate=validate.OneOf(TONES))
    language = fields.String(
        validate=validate.Regexp(r"^[a-z]{2}(-[A-Z]{2})?$", error="Use a language code like 'en' or 'pt-BR'.")
    )
    prohibited_topics = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)), validate=validate.Length(max=50)
    )
    fallback_message = fields.String(validate=validate.Length(min=1, max=1000))
    model = fields.String(validate=validate.Length(min=1, max=100))
    confidence_threshold = fields.Float(validate=validate.Range(min=0, max=1))
    max_response_tokens = fields.Integer(validate=validate.Range(min=16, max=4096))
    updated_at = UTCDateTimeField(dump_only=True)


class ApiKeyCreateSchema(BaseSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(load_default=Role.ADMIN.value, validate=validate.OneOf([Role.ADMIN.value, Role.AGENT.value]))


class ApiKeySchema(BaseSchema):
    id = fields.UUID()
    name = fields.String()
    prefix = fields.String(metadata={"description": "First characters of the key, to tell keys apart"})
    role = fields.Function(lambda k: k.role.value)
    created_at = UTCDateTimeField()
    last_used_at = UTCDateTimeField(allow_none=True)
    revoked_at = UTCDateTimeField(allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(attribute="secret", metadata={"description": "The secret. Shown only in this response."})


ApiKeyListSchema = list_schema("api_keys", ApiKeySchema)


class MemberCreateSchema(BaseSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    role = fields.String(required=True, validate=validate.OneOf([Role.ADMIN.value, Role.AGENT.value]))
    password = fields.String(
        load_only=True,
        validate=validate.Length(max=MAX_LENGTH),
        metadata={
            "minLength": MIN_LENGTH,
            "pattern": POLICY_PATTERN,
            "description": f"Optional; without it the response carries an invite link. {POLICY}",
        },
    )

    @validates_schema
    def strong_password(self, data, **kwargs):
        if data.get("password"):
            check_new_password(data, "password", data.get("email"))


class MemberUpdateSchema(BaseSchema):
    full_name = fields.String(validate=validate.Length(min=1, max=120))
    role = fields.String(validate=validate.OneOf([Role.ADMIN.value, Role.AGENT.value]))
    is_active = fields.Boolean()


class MemberCreatedSchema(MemberSchema):
    invite_url = fields.String(allow_none=True, metadata={"description": "Link to set a password; shown once"})


class TeamQuerySchema(BaseSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    role = fields.String(load_default=None, validate=validate.OneOf([r.value for r in Role]))
    search = fields.String(load_default=None, validate=validate.Length(max=200))


MemberListSchema = list_schema("members", MemberSchema)
ProfileSchema = CreatorSchema
