"""Channel pages: the chat widget's settings and its embed code; SMS/WhatsApp numbers through Twilio."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.api.errors import ApiError
from app.auth.web import roles_required
from app.extensions import db
from app.messaging import channels as twilio_channels
from app.models import Role
from app.widget import bp, services
from app.widget.forms import TwilioChannelForm, TwilioEditForm, WidgetForm


@bp.before_request
@login_required
@roles_required(Role.OWNER, Role.ADMIN)
def require_editor():
    pass


@bp.route("/", methods=["GET", "POST"])
def index():
    channels = db.session.scalars(twilio_channels.channels_query(current_user.creator_id)).all()
    channel = next((c for c in channels if c.channel_type == "web"), None)
    form = WidgetForm(
        data=(
            channel.widget
            | {"channel_name": channel.channel_name, "allowed_origins": "\n".join(channel.widget["allowed_origins"])}
        )
        if channel
        else None
    )
    if form.validate_on_submit():
        config = {
            "widget_color": form.widget_color.data,
            "title": form.title.data,
            "welcome_message": form.welcome_message.data,
            "avatar_url": form.avatar_url.data or None,
            "allowed_origins": form.origins(),
        }
        try:
            if channel:
                services.update_channel(channel, form.channel_name.data, config)
            else:
                services.create_web_channel(current_user.creator_id, form.channel_name.data, config)
            flash("Chat widget saved.", "success")
            return redirect(url_for("channels.index"))
        except ApiError as error:
            form.allowed_origins.errors.append(error.description)
    return render_template(
        "channels/index.html",
        form=form,
        channel=channel,
        embed_code=services.embed_code(channel) if channel else None,
        twilio_form=TwilioChannelForm(prefix="twilio"),
        twilio_channels=[
            (twilio_channels.describe(c), _edit_form(c))
            for c in channels
            if c.channel_type in twilio_channels.TWILIO_TYPES
        ],
        webhook_urls=twilio_channels.webhook_urls(),
    )


def _edit_form(channel, formdata=None) -> TwilioEditForm:
    config = channel.configuration or {}
    data = {
        "channel_type": channel.channel_type,
        "channel_name": channel.channel_name,
        "account_sid": config.get("account_sid", ""),
        "phone_numbers": ", ".join(config.get("phone_numbers") or []),
    }
    return TwilioEditForm(formdata=formdata, prefix=f"edit-{channel.id}", data=data)


@bp.route("/twilio", methods=["POST"])
def connect_twilio():
    """Connect an SMS/WhatsApp number (the same service as POST /api/v1/channels)."""
    form = TwilioChannelForm(prefix="twilio")
    if form.validate_on_submit():
        try:
            twilio_channels.create_twilio_channel(
                current_user.creator_id,
                form.channel_type.data,
                form.channel_name.data,
                {"account_sid": form.account_sid.data.strip(), "phone_numbers": [form.phone_number.data]},
                {"auth_token": form.auth_token.data.strip()},
            )
            flash("Number connected. Paste the webhook URLs into Twilio, then verify.", "success")
        except ApiError as error:
            flash(error.description, "error")
    else:
        flash("Fill in every field of the Twilio form.", "error")
    return redirect(url_for("channels.index"))


def _flash_verification(channel) -> None:
    reason = (channel.configuration or {}).get("status_reason")
    if channel.status == twilio_channels.Status.ACTIVE:
        flash("Twilio confirmed the number is on your account: it is connected.", "success")
    elif channel.status == twilio_channels.Status.FAILED:
        flash(f"Verification failed: {reason}", "error")
    else:
        flash(f"Could not verify yet: {reason}", "error")


@bp.route("/<uuid:channel_id>/verify", methods=["POST"])
def verify(channel_id):
    _flash_verification(twilio_channels.verify(twilio_channels.get_channel(current_user.creator_id, channel_id)))
    return redirect(url_for("channels.index"))


@bp.route("/<uuid:channel_id>/edit", methods=["POST"])
def edit_twilio(channel_id):
    """Save the edit form (the same service as PUT /api/v1/channels/<id>); a change that needs Twilio's
    word again is verified at once, so the number does not sit unclaimed."""
    channel = twilio_channels.get_channel(current_user.creator_id, channel_id)
    form = _edit_form(channel, formdata=request.form)
    if not form.validate_on_submit():
        flash("Give the channel a name, its account SID and at least one number.", "error")
        return redirect(url_for("channels.index"))
    token = (form.auth_token.data or "").strip()
    try:
        twilio_channels.update_twilio_channel(
            channel,
            form.channel_name.data,
            {"account_sid": form.account_sid.data.strip(), "phone_numbers": form.numbers()},
            {"auth_token": token} if token else None,
            form.channel_type.data,
        )
    except ApiError as error:
        flash(error.description, "error")
        return redirect(url_for("channels.index"))
    if channel.status == twilio_channels.Status.PENDING:
        _flash_verification(twilio_channels.verify(channel))
    else:
        flash("Changes saved.", "success")
    return redirect(url_for("channels.index"))


@bp.route("/<uuid:channel_id>/remove", methods=["POST"])
def remove_twilio(channel_id):
    channel = twilio_channels.get_channel(current_user.creator_id, channel_id)
    try:
        twilio_channels.remove(channel)
        flash(f"“{channel.channel_name}” removed. Its messages stay in the outbox.", "success")
    except ApiError as error:
        flash(error.description, "error")
    return redirect(url_for("channels.index"))
