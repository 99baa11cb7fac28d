"""Dashboard pages: log in, register, log out, forgotten and reset password."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.api.errors import ApiError
from app.auth import bp, services
from app.auth.forms import ForgotPasswordForm, LoginForm, RegisterForm, ResetPasswordForm
from app.auth.limits import auth_ip_limit, login_account_limit, mark_login_failed
from app.auth.web import sign_in, sign_out


def _safe_next() -> str:
    target = request.args.get("next", "")
    return target if is_local_path(target) else url_for("dashboard.home")


def is_local_path(target: str) -> bool:
    r"""Only a path on this site: never an open redirect to another host.

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    "/\t/evil.example" or "/\evil.example" would lead to //evil.example; a newline
    would also break the Location header. Targets holding them are refused outright.
    """
    if not target.startswith("/") or target.startswith("//"):
        return False
    if "\\" in target or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@bp.route("/login", methods=["GET", "POST"])
@auth_ip_limit
@login_account_limit
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    form = LoginForm()
    if form.validate_on_submit():
        member = services.authenticate(form.email.data, form.password.data)
        if member is not None:
            sign_in(member)
            return redirect(_safe_next())
        mark_login_failed()
        form.password.errors.append("Wrong e-mail or password.")
    return render_template("auth/login.html", form=form)


@bp.route("/register", methods=["GET", "POST"])
@auth_ip_limit
def register():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            member = services.register_creator(
                form.email.data, form.password.data, form.full_name.data, form.company_name.data
            )
        except ApiError as error:
            form.email.errors.append(error.description)
        else:
            sign_in(member)
            flash(f"Welcome to Creator Hub, {member.full_name}!", "success")
            return redirect(url_for("dashboard.home"))
    return render_template("auth/register.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    sign_out()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@auth_ip_limit
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        services.request_password_reset(form.email.data)
        flash("If an account exists for this e-mail, a reset link is on its way.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@auth_ip_limit
def reset_password(token):
    member = services.member_from_reset_token(token)
    if member is None:
        flash("This reset link is invalid or has expired. Ask for a new one.", "error")
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        services.set_password(member, form.password.data, None, "password_reset")
        flash("Your password is set. Log in with it now.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form, member=member)
