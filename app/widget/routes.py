"""Channel pages: the chat widget's settings and its embed code."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.api.errors import ApiError
from app.auth.web import roles_required
from app.extensions import db
from app.models import Role
from app.widget import bp, services
from app.widget.forms import WidgetForm


@bp.before_request
@login_required
@roles_required(Role.OWNER, Role.ADMIN)
def require_editor():
    pass


@bp.route("/", methods=["GET", "POST"])
def index():
    channels = db.session.scalars(services.channels_query(current_user.creator_id)).all()
    channel = channels[0] if channels else None
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
        "channels/index.html", form=form, channel=channel, embed_code=services.embed_code(channel) if channel else None
    )
