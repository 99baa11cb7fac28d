"""Settings pages: profile, AI persona, password, API keys, team."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts import bp, services
from app.accounts.forms import ApiKeyForm, MemberForm, PersonaForm, ProfileForm
from app.api.errors import ApiError
from app.auth import services as auth_services
from app.auth.forms import ChangePasswordForm
from app.auth.web import current_session, roles_required
from app.htmx import render_fragment
from app.models import Role

ADMINS = (Role.OWNER, Role.ADMIN)


@bp.before_request
@login_required
def require_login():
    pass


@bp.route("/profile", methods=["GET", "POST"])
@roles_required(*ADMINS)
def profile():
    creator = current_user.creator
    form = ProfileForm(obj=creator)
    if form.validate_on_submit():
        services.update_profile(creator, {name: form[name].data or None for name in services.PROFILE_FIELDS})
        flash("Profile saved.", "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form)


@bp.route("/assistant", methods=["GET", "POST"])
@roles_required(*ADMINS)
def persona():
    persona = services.persona_for(current_user.creator)
    form = PersonaForm(obj=persona)
    if request.method == "GET":
        form.prohibited_topics.data = "\n".join(persona.prohibited_topics or [])
    if form.validate_on_submit():
        services.update_persona(
            current_user.creator,
            {
                "assistant_name": form.assistant_name.data,
                "tone": form.tone.data,
                "language": form.language.data,
                "custom_prompt": form.custom_prompt.data or "",
                "prohibited_topics": form.topics(),
                "fallback_message": form.fallback_message.data,
                "model": form.model.data,
                "confidence_threshold": float(form.confidence_threshold.data),
                "max_response_tokens": form.max_response_tokens.data,
            },
        )
        flash("Assistant persona saved.", "success")
        return redirect(url_for("accounts.persona"))
    return render_template("accounts/persona.html", form=form)


@bp.route("/password", methods=["GET", "POST"])
def password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            session = current_session()
            auth_services.change_password(
                current_user, form.current_password.data, form.password.data, session.id if session else None
            )
        except ApiError as error:
            form.current_password.errors.append(error.description)
        else:
            flash("Password changed. Your other sessions have been signed out.", "success")
            return redirect(url_for("accounts.password"))
    return render_template("accounts/password.html", form=form)


@bp.route("/api-keys", methods=["GET", "POST"])
@roles_required(*ADMINS)
def api_keys():
    form = ApiKeyForm()
    new_key = None
    if form.validate_on_submit():
        key, secret = services.create_api_key(current_user.creator, form.name.data, Role(form.role.data), current_user)
        new_key = {"name": key.name, "secret": secret}
        form = ApiKeyForm(formdata=None)
    keys = services.list_api_keys(current_user.creator)
    return render_fragment("accounts/api_keys.html", "keys_panel", form=form, keys=keys, new_key=new_key)


@bp.route("/api-keys/<uuid:key_id>/revoke", methods=["POST"])
@roles_required(*ADMINS)
def revoke_api_key(key_id):
    key = services.revoke_api_key(current_user.creator, key_id)
    return render_template("accounts/_api_key_row.html", key=key)


@bp.route("/team", methods=["GET", "POST"])
@roles_required(*ADMINS)
def team():
    form = MemberForm()
    invite = None
    if form.validate_on_submit():
        try:
            member = services.add_member(
                current_user.creator,
                current_user.role,
                {
                    "email": form.email.data,
                    "full_name": form.full_name.data,
                    "role": form.role.data,
                    "password": form.password.data or None,
                },
            )
        except ApiError as error:
            (form.email.errors if error.code == 409 else form.role.errors).append(error.description)
        else:
            if member.password_hash is None:
                invite = {"name": member.full_name, "url": auth_services.password_reset_url(member)}
            flash(f"{member.full_name} was added to the team.", "success")
            form = MemberForm(formdata=None)
    members = services.list_team(current_user.creator)
    return render_template("accounts/team.html", form=form, members=members, invite=invite)


@bp.route("/team/<uuid:member_id>/role", methods=["POST"])
@roles_required(*ADMINS)
def change_role(member_id):
    try:
        member = services.update_member(
            current_user.creator, current_user.role, member_id, {"role": request.form.get("role", "")}
        )
    except (ApiError, ValueError) as error:
        flash(getattr(error, "description", "Unknown role."), "error")
    else:
        flash(f"{member.full_name} is now {member.role.value}.", "success")
    return redirect(url_for("accounts.team"))


@bp.route("/team/<uuid:member_id>/remove", methods=["POST"])
@roles_required(*ADMINS)
def remove_member(member_id):
    try:
        services.remove_member(current_user.creator, current_user.role, member_id)
    except ApiError as error:
        flash(error.description, "error")
    else:
        flash("Team member removed.", "success")
    return redirect(url_for("accounts.team"))
