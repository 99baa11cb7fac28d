from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError

from app.auth.emails import EmailAddress
from app.auth.passwords import MAX_LENGTH, password_problems


def strong_password(form, field):
    email = form.email.data if hasattr(form, "email") else None
    problems = password_problems(field.data or "", email)
    if problems:
        raise ValidationError(" ".join(problems))


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class RegisterForm(FlaskForm):
    full_name = StringField("Your name", validators=[DataRequired(), Length(max=120)])
    company_name = StringField("Business or brand (optional)", validators=[Optional(), Length(max=120)])
    email = EmailField("E-mail", validators=[DataRequired(), EmailAddress(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), strong_password])
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")]
    )


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), EmailAddress()])


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), strong_password])
    confirm = PasswordField(
        "Repeat password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")]
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), strong_password])
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")]
    )
