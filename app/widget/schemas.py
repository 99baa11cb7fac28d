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


class ChannelCreateSchema(BaseSchema):
    channel_type = fields.String(
        required=True,
        validate=validate.OneOf(["web"], error="Only 'web' channels exist yet; SMS and WhatsApp come with Twilio."),
    )
    channel_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    configuration = fields.Nested(WidgetConfigSchema, load_default=dict)


class ChannelUpdateSchema(BaseSchema):
    channel_name = fields.String(validate=validate.Length(min=1, max=120))
    configuration = fields.Nested(WidgetConfigSchema)


class ChannelSchema(BaseSchema):
    id = fields.UUID()
    channel_type = fields.String()
    channel_name = fields.String()
    status = fields.String()
    configuration = fields.Dict(attribute="widget")
    created_at = UTCDateTimeField()


class ChannelListSchema(BaseSchema):
    channels = fields.List(fields.Nested(ChannelSchema))


class EmbedCodeSchema(BaseSchema):
    channel_id = fields.UUID()
    embed_code = fields.String()
