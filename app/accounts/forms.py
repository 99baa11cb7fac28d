from zoneinfo import available_timezones

from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from app.accounts.schemas import TONES
from app.auth.emails import EmailAddress
from app.auth.forms import strong_password

TIMEZONES = sorted(available_timezones())


class ProfileForm(FlaskForm):
    full_name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Contact e-mail", validators=[DataRequired(), EmailAddress(), Length(max=254)])
    company_name = StringField("Business or brand", validators=[Optional(), Length(max=120)])
    website = URLField(
        "Website",
        validators=[Optional(), Length(max=500), Regexp(r"^https?://", message="Start with http:// or https://")],
    )
    timezone = SelectField("Time zone", choices=TIMEZONES)


class PersonaForm(FlaskForm):
    assistant_name = StringField("Assistant name", validators=[DataRequired(), Length(max=80)])
    tone = SelectField("Tone", choices=[SelectChoice(t, t.capitalize()) for t in TONES])
    language = StringField(
        "Language",
        validators=[DataRequired(), Regexp(r"^[a-z]{2}(-[A-Z]{2})?$", message="Use a code like en or pt-BR.")],
    )
    custom_prompt = TextAreaField("Instructions in your voice", validators=[Length(max=4000)])
    prohibited_topics = TextAreaField("Prohibited topics (one per line)", validators=[Length(max=5000)])
    fallback_message = TextAreaField("Fallback message", validators=[DataRequired(), Length(max=1000)])
    model = StringField("Ollama chat model", validators=[DataRequired(), Length(max=100)])
    confidence_threshold = DecimalField("Confidence threshold (0–1)", places=2, validators=[NumberRange(min=0, max=1)])
    max_response_tokens = IntegerField("Longest answer (tokens)", validators=[NumberRange(min=16, max=4096)])

    def topics(self) -> list[str]:
        return [line.strip() for line in (self.prohibited_topics.data or "").splitlines() if line.strip()]


class ApiKeyForm(FlaskForm):
    name = StringField("Key name", validators=[DataRequired(), Length(max=100)])
    role = SelectField(
        "Access",
        choices=[SelectChoice("admin", "Admin: full API access"), SelectChoice("agent", "Agent: inbox and users")],
    )


class MemberForm(FlaskForm):
    full_name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("E-mail", validators=[DataRequired(), EmailAddress(), Length(max=254)])
    role = SelectField("Role", choices=[SelectChoice("agent", "Agent"), SelectChoice("admin", "Admin")])
    password = PasswordField(
        "Password (optional: leave empty to get an invite link)", validators=[Optional(), strong_password]
    )
