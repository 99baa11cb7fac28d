"""Request and response shapes of /api/v1/auth."""

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.schemas import BaseSchema, UTCDateTimeField
from app.auth.passwords import MAX_LENGTH, MIN_LENGTH, password_problems

POLICY = (
    f"{MIN_LENGTH} to {MAX_LENGTH} characters, not only letters nor only digits, "
    "not a common password, not the e-mail address"
)
# What the pattern can say of the policy: a letter and a digit, or a symbol (it is slightly
# stricter than the server, which takes any non-letter, non-digit character as a symbol).
POLICY_PATTERN = r"[0-9][\s\S]*[A-Za-z]|[A-Za-z][\s\S]*[0-9]|[ -/:-@\[-`{-~]"


class PasswordField(fields.String):
    def __init__(self, **kwargs):
        super().__init__(required=True, load_only=True, validate=validate.Length(min=1, max=MAX_LENGTH), **kwargs)


class NewPasswordField(PasswordField):
    """A password being set: the policy (checked with its own messages by check_new_password) is in the document."""

    def __init__(self, **kwargs):
        super().__init__(metadata={"minLength": MIN_LENGTH, "pattern": POLICY_PATTERN, "description": POLICY}, **kwargs)


def check_new_password(data, field="password", email=None):
    problems = password_problems(data.get(field, ""), email)
    if problems:
        raise ValidationError(problems, field)


class RegisterSchema(BaseSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = NewPasswordField()
    full_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    company_name = fields.String(load_default=None, validate=validate.Length(max=120))

    @validates_schema
    def strong_password(self, data, **kwargs):
        check_new_password(data, "password", data.get("email"))


class LoginSchema(BaseSchema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = PasswordField()


class RefreshSchema(BaseSchema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class RevokeSchema(BaseSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=4000))
    token_type_hint = fields.String(validate=validate.OneOf(["access_token", "refresh_token"]))


class ResetRequestSchema(BaseSchema):
    email = fields.Email(required=True)


class ResetConfirmSchema(BaseSchema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=500))
    new_password = NewPasswordField()

    @validates_schema
    def strong_password(self, data, **kwargs):
        check_new_password(data, "new_password")


class ChangePasswordSchema(BaseSchema):
    current_password = PasswordField()
    new_password = NewPasswordField()

    @validates_schema
    def strong_password(self, data, **kwargs):
        check_new_password(data, "new_password")


class ValidatePasswordSchema(BaseSchema):
    password = fields.String(required=True, validate=validate.Length(max=128))
    email = fields.String(load_default=None)


class PasswordStrengthSchema(BaseSchema):
    valid = fields.Boolean()
    problems = fields.List(fields.String())


class CreatorSchema(BaseSchema):
    id = fields.UUID(dump_only=True)
    email = fields.Email()
    full_name = fields.String()
    company_name = fields.String(allow_none=True)
    website = fields.String(allow_none=True)
    timezone = fields.String()
    subscription_tier = fields.String(dump_only=True)
    is_active = fields.Boolean(dump_only=True)
    created_at = UTCDateTimeField(dump_only=True)
    updated_at = UTCDateTimeField(dump_only=True)


class MemberSchema(BaseSchema):
    id = fields.UUID(dump_only=True)
    email = fields.Email()
    full_name = fields.String()
    role = fields.Function(lambda m: m.role.value)
    permissions = fields.List(fields.String(), dump_only=True)
    is_active = fields.Boolean()
    created_at = UTCDateTimeField(dump_only=True)
    last_login_at = UTCDateTimeField(dump_only=True, allow_none=True)


class TokenPairSchema(BaseSchema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(metadata={"example": "bearer"})
    expires_in = fields.Integer(metadata={"example": 900})


class AuthResultSchema(TokenPairSchema):
    user = fields.Nested(MemberSchema)
    creator = fields.Nested(CreatorSchema)


class MeSchema(BaseSchema):
    user = fields.Nested(MemberSchema, allow_none=True)
    creator = fields.Nested(CreatorSchema)
    role = fields.String()
    permissions = fields.List(fields.String())
    auth_method = fields.String(metadata={"description": "jwt or api_key"})


class RevokeResultSchema(BaseSchema):
    revoked = fields.Boolean()
