from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from app.faq.services import MAX_VARIANTS
from app.models import FaqStatus


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class FaqForm(FlaskForm):
    question = StringField("Question", validators=[DataRequired(), Length(min=3, max=500)])
    question_variants = TextAreaField("Other ways people ask it (one per line)", validators=[Length(max=10_000)])
    answer = TextAreaField("Answer", validators=[Length(max=4000)])
    category = StringField("Category", validators=[Optional(), Length(max=100)])
    status = SelectField(
        "Status",
        choices=[
            SelectChoice(FaqStatus.PUBLISHED, "Published: answers visitors"),
            SelectChoice(FaqStatus.DRAFT, "Draft: not used yet"),
        ],
    )

    def validate_question_variants(self, field):
        if len(_lines(field.data)) > MAX_VARIANTS:
            raise ValidationError(f"At most {MAX_VARIANTS} variants.")

    def entry_data(self) -> dict:
        return {
            "question": self.question.data,
            "question_variants": _lines(self.question_variants.data),
            "answer": self.answer.data or "",
            "category": self.category.data or None,
            "status": self.status.data,
        }


class ExtractForm(FlaskForm):
    min_frequency = IntegerField("Asked at least", default=3, validators=[NumberRange(min=2, max=10_000)])
    days = IntegerField("In the last (days)", default=30, validators=[NumberRange(min=1, max=365)])


class WarmForm(FlaskForm):
    queries = TextAreaField("Questions to answer ahead (one per line)", validators=[DataRequired(), Length(max=25_000)])

    def validate_queries(self, field):
        lines = _lines(field.data)
        if not 1 <= len(lines) <= 50:
            raise ValidationError("Give 1 to 50 questions, one per line.")
        if any(len(line) < 3 or len(line) > 500 for line in lines):
            raise ValidationError("Each question is 3 to 500 characters.")

    def lines(self) -> list[str]:
        return list(dict.fromkeys(_lines(self.queries.data)))
