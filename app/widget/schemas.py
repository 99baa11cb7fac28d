from marshmallow import RAISE, fields, validate

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
    class Meta(BaseSchema.Meta):
        unknown = RAISE  # the API-wide rule: a field no schema declares is a 422, never dropped

    auth_token = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=256),
        metadata={"description": "The Twilio auth token; stored encrypted, never returned."},
    )


class ChannelConfigurationSchema(WidgetConfigSchema):
    """Every field a channel body may carry, so none is dropped unseen: the widget's for a web
    channel; for SMS/WhatsApp the product's account_sid, phone_numbers, messaging_service_sid or
    creator-hub-api.md's phone_number, business_account_id, access_token, webhook_verify_token.
    A field of the other kind of channel is a 422."""

    class Meta(BaseSchema.Meta):
        unknown = RAISE  # the API-wide rule: a field no schema declares is a 422, never dropped

    account_sid = fields.String(metadata={"description": "Twilio account SID, AC followed by 32 hex digits"})
    phone_numbers = fields.List(fields.String(), metadata={"description": "1 to 20 numbers in E.164"})
    phone_number = fields.String(metadata={"description": "One number in E.164 (the source's shape)"})
    messaging_service_sid = fields.String(allow_none=True, metadata={"description": "MG…; null clears it"})
    business_account_id = fields.String(
        metadata={"description": "Kept as given; an AC… value is taken as the Twilio account SID"}
    )
    access_token = fields.String(
        load_only=True, metadata={"description": "The Twilio auth token (the source's name); stored encrypted"}
    )
    webhook_verify_token = fields.String(load_only=True, metadata={"description": "Stored encrypted, never returned"})


class ChannelCreateSchema(BaseSchema):
    """A web channel (the widget's configuration) or an SMS/WhatsApp number on a Twilio account,
    in the product's shape or creator-hub-api.md's."""

    class Meta(BaseSchema.Meta):
        unknown = RAISE  # the API-wide rule: a field no schema declares is a 422, never dropped

    channel_type = fields.String(required=True, validate=validate.OneOf(["web", "sms", "whatsapp"]))
    channel_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    configuration = fields.Nested(ChannelConfigurationSchema, load_default=dict)
    secrets = fields.Nested(TwilioSecretsSchema, load_only=True)


class ChannelUpdateSchema(BaseSchema):
    """Only what is sent changes (PUT and PATCH alike); an SMS channel may become WhatsApp and back."""

    class Meta(BaseSchema.Meta):
        unknown = RAISE  # the API-wide rule: a field no schema declares is a 422, never dropped

    channel_type = fields.String(validate=validate.OneOf(["web", "sms", "whatsapp"]))
    channel_name = fields.String(validate=validate.Length(min=1, max=120))
    configuration = fields.Nested(ChannelConfigurationSchema)
    secrets = fields.Nested(TwilioSecretsSchema, load_only=True)


class WebhookUrlsSchema(BaseSchema):
    inbound = fields.String()
    status = fields.String()


class ChannelSchema(BaseSchema):
    """Secrets are never returned; Twilio channels show the webhook URLs to paste into Twilio
    (configuration.webhook_url is the inbound one, as creator-hub-api.md names it)."""

    id = fields.UUID()
    channel_type = fields.String()
    channel_name = fields.String()
    status = fields.String(metadata={"description": "active, pending_verification (a new number) or failed"})
    status_reason = fields.String(allow_none=True)
    configuration = fields.Dict(attribute="public_configuration")
    has_credentials = fields.Boolean()
    webhook_urls = fields.Nested(WebhookUrlsSchema, allow_none=True)
    verified_at = fields.String(allow_none=True, metadata={"description": "When Twilio last confirmed the numbers"})
    user_count = fields.Integer(metadata={"description": "People who have talked on this channel"})
    last_activity_at = UTCDateTimeField(allow_none=True)
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
