from marshmallow import fields, validate

from app.api.schemas import BaseSchema, UTCDateTimeField


class WidgetConfigSchema(BaseSchema):
    widget_color = fields.String(validate=validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="Use a colour like #4f46e5."))
    title = fields.String(validate=validate.Length(min=1, max=80))
    welcome_message = fields.String(validate=validate.Length(min=1, max=500))
    avatar_url = fields.URL(allow_none=True, schemes={"https", "http"}, validate=validate.Length(max=500))
    allowed_origins = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)), validate=validate.Length(max=50)
    )


class TwilioSecretsSchema(BaseSchema):
    auth_token = fields.String(required=True, load_only=True, validate=validate.Length(min=16, max=64))


class ChannelCreateSchema(BaseSchema):
    """`configuration` is the widget's (web) or {account_sid, phone_numbers, messaging_service_sid} (sms, whatsapp)."""

    channel_type = fields.String(required=True, validate=validate.OneOf(["web", "sms", "whatsapp"]))
    channel_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    configuration = fields.Dict(load_default=dict)
    secrets = fields.Nested(TwilioSecretsSchema, load_only=True)


class ChannelUpdateSchema(BaseSchema):
    channel_name = fields.String(validate=validate.Length(min=1, max=120))
    configuration = fields.Dict()
    secrets = fields.Nested(TwilioSecretsSchema, load_only=True)


class WebhookUrlsSchema(BaseSchema):
    inbound = fields.String()
    status = fields.String()


class ChannelSchema(BaseSchema):
    """Secrets are never returned; Twilio channels show the webhook URLs to paste into Twilio."""

    id = fields.UUID()
    channel_type = fields.String()
    channel_name = fields.String()
    status = fields.String()
    status_reason = fields.String(allow_none=True)
    configuration = fields.Dict(attribute="public_configuration")
    has_credentials = fields.Boolean()
    webhook_urls = fields.Nested(WebhookUrlsSchema, allow_none=True)
    created_at = UTCDateTimeField()


class ChannelListSchema(BaseSchema):
    channels = fields.List(fields.Nested(ChannelSchema))


class EmbedCodeSchema(BaseSchema):
    channel_id = fields.UUID()
    embed_code = fields.String()


class DailyCountSchema(BaseSchema):
    date = fields.String()
    inbound = fields.Integer()
    outbound = fields.Integer()


class ChannelAnalyticsSchema(BaseSchema):
    channel_id = fields.UUID()
    period_days = fields.Integer()
    messages = fields.Dict(keys=fields.String(), values=fields.Integer())
    unique_users = fields.Integer()
    new_users = fields.Integer()
    daily = fields.List(fields.Nested(DailyCountSchema))
    generated_at = UTCDateTimeField()


class AnalyticsQuerySchema(BaseSchema):
    days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))
