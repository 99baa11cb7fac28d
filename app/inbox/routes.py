"""Inbox pages: the live conversation list, and one conversation with takeover, reply and close.

Both pages poll an HTMX fragment every 2 s. The conversation's fragment
carries a version of what it shows and the server answers 204 (htmx keeps
the page as it is) while nothing changed, so an open conversation costs one
tiny query per poll.
"""

import uuid

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.api.errors import ApiError
from app.api.pagination import paginate
from app.assistant import services as assistant
from app.extensions import db
from app.htmx import is_htmx
from app.inbox import bp, services
from app.inbox.forms import CloseForm, FilterForm, MemoryForm, ReplyForm

PAGE_SIZE = 25


@bp.before_request
@login_required
def require_login():
    pass  # owners, admins and agents all work the inbox


def _conversation(conversation_id: uuid.UUID):
    return services.get_conversation(current_user.creator_id, conversation_id)


def _list_context() -> dict:
    form = FilterForm(request.args)
    form.set_team(services.team(current_user.creator_id))
    filters = form.filters()
    page = max(request.args.get("page", 1, type=int), 1)
    query = services.conversations_query(
        current_user.creator_id,
        status=filters.get("status"),
        channel=filters.get("channel"),
        assignee=filters.get("assignee"),
        search=filters.get("q"),
        member=current_user,
    )
    items, pagination = paginate(query, page, PAGE_SIZE)
    return {"form": form, "filters": filters, "rows": services.summarize(items), "pagination": pagination}


@bp.route("")
def index():
    """The conversation list; the filter form swaps only the list (HX-Request) and keeps the URL."""
    template = "inbox/_list.html" if is_htmx() else "inbox/index.html"
    return render_template(template, **_list_context())


@bp.route("/list")
def rows():
    """The list alone, with the same filters: polled by the list page."""
    return render_template("inbox/_list.html", **_list_context())


def _detail_context(conversation) -> dict:
    return {"view": services.conversation_detail(conversation), "version": services.version(conversation)}


@bp.route("/<uuid:conversation_id>")
def detail(conversation_id):
    conversation = _conversation(conversation_id)
    return render_template(
        "inbox/detail.html",
        **_detail_context(conversation),
        reply_form=ReplyForm(),
        close_form=CloseForm(),
        memory_form=MemoryForm(formdata=None),
    )


@bp.route("/<uuid:conversation_id>/live")
def live(conversation_id):
    """Status and messages, polled; 204 while the version the page has is still current."""
    conversation = _conversation(conversation_id)
    if request.args.get("v") == services.version(conversation):
        return Response(status=204)
    return render_template("inbox/_live.html", **_detail_context(conversation))


@bp.route("/<uuid:conversation_id>/reply", methods=["POST"])
def reply(conversation_id):
    """HTMX: append the new message and reset the form; errors replace the form and keep the text."""
    conversation = _conversation(conversation_id)
    form = ReplyForm()
    error = None
    if form.validate_on_submit():
        try:
            message = services.reply(conversation, current_user, form.message.data)
        except ApiError as failure:
            error = failure.description
    else:
        error = form.message.errors[0] if form.message.errors else "The form expired; reload the page."
    if not is_htmx():
        flash(error or "Reply sent.", "error" if error else "success")
        return redirect(url_for("inbox.detail", conversation_id=conversation.id))
    if error:
        response = Response(render_template("inbox/_reply_form.html", view=conversation, reply_form=form, error=error))
        response.headers.update({"HX-Retarget": "#reply-form", "HX-Reswap": "outerHTML"})
        return response
    response = Response(
        render_template(
            "inbox/_reply_sent.html",
            message=message,
            view=conversation,
            agents={current_user.id: current_user},
            reply_form=ReplyForm(formdata=None),
        )
    )
    # Replying may have taken the conversation over: the status bar refreshes now, not at the next poll.
    response.headers["HX-Trigger"] = "conversation-changed"
    return response


def _act(conversation_id, action, success: str):
    conversation = _conversation(conversation_id)
    try:
        action(conversation)
        flash(success, "success")
    except ApiError as error:
        flash(error.description, "error")
    return redirect(url_for("inbox.detail", conversation_id=conversation.id))


@bp.route("/<uuid:conversation_id>/take-over", methods=["POST"])
def take_over(conversation_id):
    return _act(
        conversation_id,
        lambda c: services.take_over(c, current_user),
        "You have the conversation; the assistant is paused.",
    )


@bp.route("/<uuid:conversation_id>/hand-back", methods=["POST"])
def hand_back(conversation_id):
    return _act(
        conversation_id, lambda c: services.hand_back(c, current_user), "The assistant answers this conversation again."
    )


@bp.route("/<uuid:conversation_id>/close", methods=["POST"])
def close(conversation_id):
    form = CloseForm()
    if not form.validate_on_submit():
        flash("; ".join(f"{form[name].label.text}: {errors[0]}" for name, errors in form.errors.items()), "error")
        return redirect(url_for("inbox.detail", conversation_id=conversation_id))
    return _act(
        conversation_id,
        lambda c: services.close(c, current_user, form.reason.data, form.summary.data),
        "Conversation closed.",
    )


def _memories(conversation, form=None):
    """The memories card; a form with errors comes back inside it (htmx swaps 200s only)."""
    view = services.conversation_detail(conversation, with_messages=False)
    return render_template("inbox/_memories.html", view=view, memory_form=form or MemoryForm(formdata=None))


@bp.route("/<uuid:conversation_id>/memories", methods=["POST"])
def remember(conversation_id):
    """HTMX: store or correct what the assistant knows about this user (one value per key)."""
    conversation = _conversation(conversation_id)
    form = MemoryForm()
    if not form.validate_on_submit():
        return _memories(conversation, form)
    key = "_".join(form.key.data.strip().lower().split())
    assistant.remember(conversation.end_user, key, form.value.data.strip(), form.kind.data, source="creator")
    db.session.commit()
    return _memories(conversation)


@bp.route("/<uuid:conversation_id>/memories/<uuid:memory_id>/delete", methods=["POST"])
def forget_memory(conversation_id, memory_id):
    conversation = _conversation(conversation_id)
    assistant.forget(conversation.end_user, memory_id)
    return _memories(conversation)
