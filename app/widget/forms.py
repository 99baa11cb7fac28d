from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, DataRequired, Length, Optional, Regexp


class WidgetForm(FlaskForm):
    channel_name = StringField("Name", default="Website chat", validators=[DataRequired(), Length(max=120)])
    title = StringField("Title", default="Ask us anything", validators=[DataRequired(), Length(max=80)])
    welcome_message = TextAreaField(
        "Welcome message", default="Hello! How can I help you today?", validators=[DataRequired(), Length(max=500)]
    )
    widget_color = StringField(
        "Colour",
        default="#4f46e5",
        validators=[DataRequired(), Regexp(r"^#[0-9a-fA-F]{6}$", message="Use a colour like #4f46e5.")],
    )
    avatar_url = StringField("Avatar image URL (optional)", validators=[Optional(), URL(), Length(max=500)])
    allowed_origins = TextAreaField(
        "Websites allowed to show it (one per line; empty: any)", validators=[Optional(), Length(max=5000)]
    )

    def origins(self) -> list[str]:
        return [line.strip() for line in (self.allowed_origins.data or "").splitlines() if line.strip()]


class TwilioChannelForm(FlaskForm):
    """Connect a Twilio number for SMS or WhatsApp (the auth token is stored encrypted)."""

    channel_type = SelectField("Channel", choices=[SelectChoice("sms", "SMS"), SelectChoice("whatsapp", "WhatsApp")])
    channel_name = StringField("Name", default="Text messages", validators=[DataRequired(), Length(max=120)])
    account_sid = StringField("Twilio account SID", validators=[DataRequired(), Length(max=34)])
    auth_token = PasswordField("Twilio auth token", validators=[DataRequired(), Length(max=64)])
    phone_number = StringField("Number (E.164, like +15551234567)", validators=[DataRequired(), Length(max=16)])


class TwilioEditForm(FlaskForm):
    """Edit a connected number: name, SMS/WhatsApp, account, numbers; a blank token keeps the stored one."""

    channel_type = SelectField("Channel", choices=[SelectChoice("sms", "SMS"), SelectChoice("whatsapp", "WhatsApp")])
    channel_name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    account_sid = StringField("Twilio account SID", validators=[DataRequired(), Length(max=34)])
    auth_token = PasswordField("New auth token (blank: keep the stored one)", validators=[Optional(), Length(max=256)])
    phone_numbers = StringField("Numbers (E.164, separated by commas)", validators=[DataRequired(), Length(max=400)])

    def numbers(self) -> list[str]:
        return [n.strip() for n in (self.phone_numbers.data or "").replace("\n", ",").split(",") if n.strip()]
