"""FAQ pages: entries, suggestions from frequent questions, and the response cache."""

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.api.errors import ApiError
from app.auth.web import roles_required
from app.extensions import db
from app.faq import bp, cache, services
from app.faq.forms import ExtractForm, FaqForm, WarmForm
from app.faq.tasks import warm_cache
from app.jobs import enqueue
from app.models import Role


@bp.before_request
@login_required
@roles_required(Role.OWNER, Role.ADMIN)
def require_editor():
    pass


def _index(form=None, extract_form=None, warm_form=None, status=200):
    creator_id = current_user.creator_id
    entries = db.session.scalars(services.list_entries(creator_id)).all()
    page = render_template(
        "faq/index.html",
        entries=entries,
        drafts=sum(1 for e in entries if e.status == "draft"),
        stats=cache.stats(creator_id),
        form=form or FaqForm(formdata=None),
        extract_form=extract_form or ExtractForm(formdata=None),
        warm_form=warm_form or WarmForm(formdata=None),
    )
    return page, status


def _show_refusal(form: FaqForm, error: ApiError) -> None:
    """The service's refusal on the field it names: a question another published entry already
    asks on the question or the variants, a missing answer on the answer."""
    named = error.details[0].get("field") if isinstance(error.details, list) and error.details else None
    field = form._fields.get(named) or form.answer
    field.errors.append(error.description)


@bp.route("/")
def index():
    return _index()


@bp.route("/new", methods=["GET", "POST"])
def create():
    if request.method == "GET":  # the address bar after a refused form: back to the page that holds it
        return redirect(url_for("faq.index"))
    form = FaqForm()
    if not form.validate_on_submit():
        return _index(form=form, status=422)
    try:
        entry = services.save_entry(current_user.creator_id, form.entry_data())
    except ApiError as error:
        _show_refusal(form, error)
        return _index(form=form, status=422)
    flash(f"FAQ entry “{entry.question}” saved.", "success")
    return redirect(url_for("faq.index"))


@bp.route("/<uuid:entry_id>", methods=["GET", "POST"])
def edit(entry_id: uuid.UUID):
    entry = services.get_entry(current_user.creator_id, entry_id)
    form = FaqForm(
        data={
            "question": entry.question,
            "question_variants": "\n".join(entry.question_variants),
            "answer": entry.answer,
            "category": entry.category,
            "status": entry.status,
        }
    )
    if form.validate_on_submit():
        try:
            services.save_entry(current_user.creator_id, form.entry_data(), entry)
            flash("FAQ entry saved.", "success")
            return redirect(url_for("faq.index"))
        except ApiError as error:
            _show_refusal(form, error)
    return render_template("faq/edit.html", entry=entry, form=form), 422 if form.errors else 200


@bp.route("/<uuid:entry_id>/delete", methods=["POST"])
def delete(entry_id: uuid.UUID):
    services.delete_entry(services.get_entry(current_user.creator_id, entry_id))
    flash("FAQ entry deleted.", "success")
    return redirect(url_for("faq.index"))


@bp.route("/extract", methods=["POST"])
def extract():
    form = ExtractForm()
    if not form.validate_on_submit():
        return _index(extract_form=form, status=422)
    created = services.extract(current_user.creator_id, form.min_frequency.data, 10, form.days.data)
    if created:
        count = f"{len(created)} frequent question{'s' if len(created) != 1 else ''}"
        flash(f"{count} added as drafts: review, answer and publish them.", "success")
    else:
        flash("No question was asked that often without an FAQ entry already covering it.", "info")
    return redirect(url_for("faq.index"))


@bp.route("/cache/warm", methods=["POST"])
def warm():
    form = WarmForm()
    if not form.validate_on_submit():
        return _index(warm_form=form, status=422)
    queries = form.lines()
    enqueue(warm_cache, str(current_user.creator_id), queries)
    flash(f"Answering {len(queries)} question{'s' if len(queries) != 1 else ''} in the background.", "success")
    return redirect(url_for("faq.index"))


@bp.route("/cache/clear", methods=["POST"])
def clear_cache():
    cleared = cache.clear(current_user.creator_id)
    flash(f"Cleared {cleared} cached answer{'s' if cleared != 1 else ''}.", "success")
    return redirect(url_for("faq.index"))
