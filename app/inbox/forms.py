from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.inbox.services import CLOSE_REASONS, ME, OPEN, UNASSIGNED

STATUS_CHOICES = [
    SelectChoice("", "All statuses"),
    SelectChoice(OPEN, "Open (not closed)"),
    SelectChoice("waiting_for_human", "Waiting for a human"),
    SelectChoice("with_agent", "With an agent"),
    SelectChoice("active", "With the AI"),
    SelectChoice("closed", "Closed"),
]
CHANNEL_CHOICES = [
    SelectChoice("", "All channels"),
    SelectChoice("web", "Chat widget"),
    SelectChoice("sms", "SMS"),
    SelectChoice("whatsapp", "WhatsApp"),
    SelectChoice("api", "API"),
]
FILTERS = ("q", "status", "channel", "assignee")


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a read-only GET form

    q = StringField("Search", validators=[Optional(), Length(max=200)])
    status = SelectField("Status", choices=STATUS_CHOICES, validators=[Optional()])
    channel = SelectField("Channel", choices=CHANNEL_CHOICES, validators=[Optional()])
    assignee = SelectField("Assignee", validators=[Optional()])

    def set_team(self, members) -> None:
        everyone = [SelectChoice("", "Anyone"), SelectChoice(ME, "Me"), SelectChoice(UNASSIGNED, "Unassigned")]
        self.assignee.choices = everyone + [SelectChoice(str(m.id), m.full_name) for m in members]

    def filters(self) -> dict:
        """The valid filters only: a stale link (a removed member, a typo) shows everything rather than an error."""
        self.validate()
        return {name: self[name].data for name in FILTERS if self[name].data and not self[name].errors}


class ReplyForm(FlaskForm):
    message = TextAreaField("Reply", validators=[DataRequired(message="Write a message."), Length(max=4000)])


class CloseForm(FlaskForm):
    reason = SelectField("Reason", choices=[SelectChoice(r, r.replace("_", " ").capitalize()) for r in CLOSE_REASONS])
    summary = TextAreaField("Summary", validators=[Optional(), Length(max=5000)])


class MemoryForm(FlaskForm):
    key = StringField("What", validators=[DataRequired(), Length(max=100)])
    value = StringField("Value", validators=[DataRequired(), Length(max=2000)])
    kind = SelectField("Kind", choices=[SelectChoice("fact", "Fact"), SelectChoice("preference", "Preference")])
