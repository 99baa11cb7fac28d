import json

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.audience.services import CHANNELS, phone_error, split_tags, timezone_error
from app.filters import humanize_enum
from app.models import ConsentState

CONSENT_CHOICES = [SelectChoice(s, humanize_enum(s)) for s in ConsentState.ALL]


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a read-only GET form

    q = StringField("Search", validators=[Optional(), Length(max=200)])
    consent_state = SelectField(
        "Consent", choices=[SelectChoice("", "Any consent"), *CONSENT_CHOICES], validators=[Optional()]
    )
    channel = SelectField(
        "Channel",
        choices=[SelectChoice("", "All channels")] + [SelectChoice(c, humanize_enum(c)) for c in CHANNELS],
        validators=[Optional()],
    )
    status = SelectField(
        "Status",
        choices=[
            SelectChoice("", "Any status"),
            SelectChoice("active", "Active"),
            SelectChoice("inactive", "Inactive"),
        ],
        validators=[Optional()],
    )
    sort = SelectField(
        "Sort",
        choices=[
            SelectChoice("created_at", "Newest"),
            SelectChoice("last_active_at", "Last active"),
            SelectChoice("engagement_score", "Engagement"),
        ],
        validators=[Optional()],
    )

    def filters(self) -> dict:
        self.validate()
        return {
            name: self[name].data
            for name in ("q", "consent_state", "channel", "status", "sort")
            if self[name].data and not self[name].errors
        }


class UserForm(FlaskForm):
    phone_e164 = StringField("Phone (E.164)", validators=[Optional(), Length(max=16)])
    external_id = StringField("External id", validators=[Optional(), Length(max=200)])
    display_name = StringField("Name", validators=[Optional(), Length(max=200)])
    email = StringField("E-mail", validators=[Optional(), Length(max=254)])
    timezone = StringField("Timezone", validators=[Optional(), Length(max=64)])
    language = StringField("Language", validators=[Optional(), Length(max=10)])
    tags = StringField("Tags", validators=[Optional(), Length(max=1000)])
    attributes = TextAreaField("Attributes (JSON)", validators=[Optional(), Length(max=20000)])

    def validate_phone_e164(self, field):
        if field.data and (error := phone_error(field.data.strip())):
            raise ValidationError(error)

    def validate_timezone(self, field):
        if field.data and (error := timezone_error(field.data.strip())):
            raise ValidationError(error)

    def validate_attributes(self, field):
        try:
            value = json.loads(field.data or "{}")
        except ValueError as error:
            raise ValidationError(f"Not JSON: {error}") from None
        if not isinstance(value, dict):
            raise ValidationError('An object, such as {"city": "Austin"}.')

    def data_for_service(self) -> dict:
        data = {f: (self[f].data or "").strip() or None for f in ("display_name", "email", "timezone", "language")}
        if self.phone_e164.data:
            data["phone_e164"] = self.phone_e164.data.strip()
        if self.external_id.data:
            data["external_id"] = self.external_id.data.strip()
        data["tags"] = split_tags(self.tags.data)
        data["attributes"] = json.loads(self.attributes.data or "{}")
        return data


class ConsentForm(FlaskForm):
    state = SelectField("Consent", choices=CONSENT_CHOICES)
    detail = StringField("Why", validators=[Optional(), Length(max=500)])


class LinkForm(FlaskForm):
    other = StringField("Other user (id or phone)", validators=[DataRequired(), Length(max=200)])


class ImportForm(FlaskForm):
    file = FileField("CSV or JSON file", validators=[FileRequired("Choose a file.")])


class SegmentForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = StringField("Description", validators=[Optional(), Length(max=2000)])
    criteria = TextAreaField("Filter criteria (JSON)", validators=[DataRequired()])

    def validate_criteria(self, field):
        try:
            json.loads(field.data)
        except ValueError as error:
            raise ValidationError(f"Not JSON: {error}") from None
