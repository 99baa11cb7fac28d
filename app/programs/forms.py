"""Forms of the program pages: the list, node editing, settings, badges, preview and enrollment."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, FloatField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.audience import services as audience
from app.models import ProgramStatus
from app.programs import engine, flow, preview
from app.programs.services import NODE_TITLES


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a read-only GET form

    q = StringField("Search", validators=[Optional(), Length(max=200)])
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")] + [SelectChoice(s, s.title()) for s in ProgramStatus.ALL],
        validators=[Optional()],
    )

    def filters(self) -> dict:
        self.validate()
        return {f.name: f.data.strip() for f in (self.q, self.status) if f.data and f.data.strip() and not f.errors}


class ProgramForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])


# --- The builder's node forms ------------------------------------------------------------
# One small form per node type, prefixed with the node id so a page holds one per node.
# CSRFProtect checks every POST already (the token rides in hx-headers), so they carry none.


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _number(value: float | None):
    """2.0 is stored as 2: the flow reads like the API's."""
    return int(value) if value is not None and float(value).is_integer() else value


class NodeForm(FlaskForm):
    """A node's data as a form; each subclass's node_data() gives the data to store."""

    class Meta:
        csrf = False

    def load(self, data: dict) -> None:
        """Show the node's stored data (no request data)."""
        for name, value in data.items():
            if name in self._fields:
                self._fields[name].data = value

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        """Problems the flow's validation found, by data key, on the matching fields."""
        for key, messages in errors.items():
            target = self._fields.get(key) or next(iter(self._fields.values()))
            target.errors = [*target.errors, *messages]


class MessageNodeForm(NodeForm):
    message = TextAreaField("Message", validators=[Length(max=flow.MAX_TEXT)])
    delay_hours = FloatField("Send after (hours)", validators=[Optional()])

    def node_data(self) -> dict:
        return {"message": self.message.data or "", "delay_hours": _number(self.delay_hours.data) or 0}


class QuestionNodeForm(NodeForm):
    question = TextAreaField("Question", validators=[Length(max=flow.MAX_TEXT)])
    choices = TextAreaField("Choices (one per line; empty for a free answer)")
    save_to = SelectField(
        "Save the answer to",
        default="",
        choices=[SelectChoice("", "Nowhere"), SelectChoice("profile", "Profile"), SelectChoice("memory", "Memory")],
    )
    save_as = StringField("As the key", validators=[Optional(), Length(max=60)])

    def load(self, data: dict) -> None:
        super().load(data)
        self.choices.data = "\n".join(data.get("choices") or [])

    def node_data(self) -> dict:
        data = {"question": self.question.data or ""}
        if _lines(self.choices.data):
            data["choices"] = _lines(self.choices.data)
        if self.save_to.data:
            data["save_to"] = self.save_to.data
        if (self.save_as.data or "").strip():
            data["save_as"] = self.save_as.data.strip()
        return data


class ConditionNodeForm(NodeForm):
    field = StringField(
        "Field", description="answer.<question id>, profile.<key>, attribute.<key>, memory.<key> or tag"
    )
    operator = SelectField("Operator", choices=[SelectChoice(o, o.replace("_", " ")) for o in flow.OPERATORS])
    value = StringField("Value", validators=[Length(max=200)])

    def node_data(self) -> dict:
        data = {"field": (self.field.data or "").strip(), "operator": self.operator.data}
        if (self.value.data or "").strip():
            data["value"] = self.value.data.strip()
        return data


class CoachNodeForm(NodeForm):
    goal = TextAreaField("Goal of the AI coach's message", validators=[Length(max=500)])

    def node_data(self) -> dict:
        return {"goal": self.goal.data or ""}


class WaitNodeForm(NodeForm):
    hours = FloatField("Wait (hours)", validators=[Optional()])
    until_time = StringField("…or until (time of day)", render_kw={"type": "time"})
    weekday = SelectField(
        "On",
        default="",
        choices=[SelectChoice("", "the next day it comes")] + [SelectChoice(d, d.title()) for d in flow.WEEKDAYS],
    )

    def node_data(self) -> dict:
        data = {}
        if self.hours.data is not None:
            data["hours"] = _number(self.hours.data)
        if (self.until_time.data or "").strip():
            data["until_time"] = self.until_time.data.strip()
        if self.weekday.data:
            data["weekday"] = self.weekday.data
        return data


class BadgeNodeForm(NodeForm):
    badge_id = SelectField("Badge", choices=[], validate_choice=False)  # an unknown badge is the flow's error
    message = TextAreaField("Message (optional; {badge} is its name)", validators=[Length(max=flow.MAX_TEXT)])

    def node_data(self) -> dict:
        data = {"badge_id": self.badge_id.data or ""}
        if (self.message.data or "").strip():
            data["message"] = self.message.data
        return data


class EndNodeForm(NodeForm):
    message = TextAreaField("Closing message (optional)", validators=[Length(max=flow.MAX_TEXT)])

    def node_data(self) -> dict:
        return {"message": self.message.data} if (self.message.data or "").strip() else {}


NODE_FORMS = {
    "send_message": MessageNodeForm,
    "ask_question": QuestionNodeForm,
    "condition": ConditionNodeForm,
    "ai_coach": CoachNodeForm,
    "wait": WaitNodeForm,
    "award_badge": BadgeNodeForm,
    "end": EndNodeForm,
}


def node_form(node: dict, badges, formdata=None) -> NodeForm | None:
    """The form of a node: its stored data, or `formdata` as submitted. None for the start."""
    form_class = NODE_FORMS.get(node.get("type"))
    if form_class is None:
        return None
    form = form_class(formdata=formdata, prefix=node["id"])
    if isinstance(form, BadgeNodeForm):
        form.badge_id.choices = [SelectChoice("", "Choose a badge…")] + [
            SelectChoice(str(b.id), f"{b.icon} {b.name}") for b in badges
        ]
    if formdata is None:
        form.load(node.get("data") or {})
    return form


class AddNodeForm(FlaskForm):
    kind = SelectField("Add a step", choices=[SelectChoice(k, NODE_TITLES[k]) for k in NODE_TITLES if k != "start"])


# --- Program settings, badges, preview, enrollment ---------------------------------------


class SettingsForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    auto_enroll = BooleanField("Enroll every new user automatically")
    widget_enroll = BooleanField("Visitors can start it from the website widget")
    enroll_keyword = StringField("SMS keyword that enrolls", validators=[Optional(), Length(max=20)])
    completion_badge = SelectField("Badge on completion", choices=[], validate_choice=False)
    quiet_off = BooleanField("No quiet hours (texts go out at any hour)")
    quiet_start = StringField("Quiet from", render_kw={"type": "time"})
    quiet_end = StringField("until", render_kw={"type": "time"})

    def set_badges(self, badges) -> None:
        self.completion_badge.choices = [SelectChoice("", "None")] + [
            SelectChoice(str(b.id), f"{b.icon} {b.name}") for b in badges
        ]

    def load(self, program) -> None:
        settings = program.settings or {}
        quiet = settings.get("quiet_hours", engine.DEFAULT_QUIET_HOURS)
        self.name.data, self.description.data = program.name, program.description
        self.auto_enroll.data = bool(settings.get("auto_enroll"))
        self.widget_enroll.data = bool(settings.get("widget_enroll"))
        self.enroll_keyword.data = settings.get("enroll_keyword") or ""
        self.completion_badge.data = settings.get("completion_badge") or ""
        self.quiet_off.data = quiet is None
        quiet = quiet or engine.DEFAULT_QUIET_HOURS
        self.quiet_start.data, self.quiet_end.data = quiet["start"], quiet["end"]

    def settings(self) -> dict:
        quiet = None if self.quiet_off.data else {"start": self.quiet_start.data, "end": self.quiet_end.data}
        return {
            "auto_enroll": self.auto_enroll.data,
            "widget_enroll": self.widget_enroll.data,
            "enroll_keyword": (self.enroll_keyword.data or "").strip() or None,
            "completion_badge": self.completion_badge.data or None,
            "quiet_hours": quiet,
        }

    def show_error(self, error_field: str, message: str) -> None:
        """An error of services.clean_settings (field settings.<key>) on its field."""
        key = error_field.removeprefix("settings.")
        target = {"quiet_hours": self.quiet_start}.get(key) or self._fields.get(key) or self.name
        target.errors = [*target.errors, message]


class BadgeForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    icon = StringField("Icon", default="🏅", validators=[Optional(), Length(max=16)])
    description = StringField("Description", validators=[Optional(), Length(max=300)])


class PreviewForm(FlaskForm):
    name = StringField("Test user's name", default="Test User", validators=[Optional(), Length(max=80)])
    profile = TextAreaField("Profile fields (key: value, one per line)", validators=[Optional(), Length(max=5000)])
    tags = StringField("Tags (comma separated)", validators=[Optional(), Length(max=500)])
    answers = TextAreaField("Answers to the questions, in order (one per line)", validators=[Length(max=10_000)])

    def validate_profile(self, field):
        for line in _lines(field.data):
            key, sep, _ = line.partition(":")
            if not sep or not key.strip():
                raise ValidationError(f"“{line}” is not key: value.")

    def test_user(self) -> preview.TestUser:
        fields = {}
        for line in _lines(self.profile.data):
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        return preview.TestUser.of((self.name.data or "").strip(), fields, audience.split_tags(self.tags.data))

    def answer_list(self) -> list[str]:
        return _lines(self.answers.data)


class EnrollForm(FlaskForm):
    user_id = SelectField("User", choices=[], validate_choice=False, validators=[DataRequired("Choose a user.")])
    channel = SelectField(
        "Reach them on",
        default="",
        choices=[SelectChoice("", "Their own channel")]
        + [SelectChoice(c, c) for c in ("web", "sms", "whatsapp", "api")],
    )
