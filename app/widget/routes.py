"""Channel pages: the chat widget's settings and its embed code; SMS/WhatsApp numbers through Twilio."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.api.errors import ApiError
from app.auth.web import roles_required
from app.extensions import db
from app.messaging import channels as twilio_channels
from app.models import Role
from app.widget import bp, services
from app.widget.forms import TwilioChannelForm, WidgetForm


@bp.before_request
@login_required
@roles_required(Role.OWNER, Role.ADMIN)
def require_editor():
    pass


@bp.route("/", methods=["GET", "POST"])
def index():
    channels = db.session.scalars(services.channels_query(current_user.creator_id)).all()
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
        twilio_channels=[services.describe(c) for c in channels if c.channel_type != "web"],
        webhook_urls=twilio_channels.webhook_urls(),
    )


@bp.route("/twilio", methods=["POST"])
def connect_twilio():
    """Connect an SMS/WhatsApp number (the same service as POST /api/v1/channels)."""
    form = TwilioChannelForm(prefix="twilio")
    if form.validate_on_submit():
        data = {
            "channel_type": form.channel_type.data,
            "channel_name": form.channel_name.data,
            "configuration": {"account_sid": form.account_sid.data.strip(), "phone_numbers": [form.phone_number.data]},
            "secrets": {"auth_token": form.auth_token.data.strip()},
        }
        try:
            services.create_channel(current_user.creator_id, data)
            flash("Number connected. Paste the webhook URLs into Twilio, then verify.", "success")
        except ApiError as error:
            flash(error.description, "error")
    else:
        flash("Fill in every field of the Twilio form.", "error")
    return redirect(url_for("channels.index"))


@bp.route("/<uuid:channel_id>/verify", methods=["POST"])
def verify(channel_id):
    channel = twilio_channels.verify(services.get_channel(current_user.creator_id, channel_id))
    reason = (channel.configuration or {}).get("status_reason")
    flash(
        "Twilio credentials work." if channel.status == "active" else f"Verification failed: {reason}",
        "success" if channel.status == "active" else "error",
    )
    return redirect(url_for("channels.index"))
