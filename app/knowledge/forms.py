from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length, NumberRange, Optional


class KnowledgeBaseForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])


class SettingsForm(FlaskForm):
    chunk_size = IntegerField("Chunk size (characters)", validators=[NumberRange(min=100, max=8000)])
    chunk_overlap = IntegerField("Overlap (characters)", validators=[NumberRange(min=0, max=3999)])
    embedding_model = SelectField("Embedding model")


class TextForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=300)])
    content = TextAreaField(
        "Text (Markdown headings are kept as sections)", validators=[DataRequired(), Length(max=5_000_000)]
    )


class UrlForm(FlaskForm):
    url = URLField("Page URL", validators=[DataRequired(), Length(max=2000)])
    title = StringField("Title (optional)", validators=[Optional(), Length(max=300)])


class RetrievalForm(FlaskForm):
    class Meta:
        csrf = False  # a read-only GET form

    q = StringField("Question", validators=[DataRequired(), Length(max=1000)])
    kb = SelectField("Search in", validators=[Optional()])
