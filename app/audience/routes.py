"""Audience pages: end users, their consent and timeline, imports and segments.

Everyone in the team sees users (agents need them in the inbox); owners and
admins change them, import and manage segments.
"""

import json
import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.api.errors import ApiError
from app.api.pagination import paginate
from app.audience import bp, segments, services
from app.audience.forms import ConsentForm, FilterForm, ImportForm, LinkForm, SegmentForm, UserForm
from app.auth.web import roles_required
from app.filters import humanize_enum
from app.htmx import is_htmx
from app.models import Role

EDITORS = (Role.OWNER, Role.ADMIN)
PAGE_SIZE = 25
editors_only = roles_required(*EDITORS)


@bp.before_request
@login_required
def require_login():
    pass


def _user(user_id):
    return services.get_user(current_user.creator_id, user_id)


@bp.route("/")
def index():
    """The users list; the filter form swaps only the list (HX-Request) and keeps the URL."""
    form = FilterForm(request.args)
    filters = form.filters()
    page = max(request.args.get("page", 1, type=int), 1)
    query = services.users_query(
        current_user.creator_id,
        channel=filters.get("channel"),
        status=filters.get("status"),
        consent_state=filters.get("consent_state"),
        search=filters.get("q"),
        sort=filters.get("sort"),
        order="desc",
    )
    items, pagination = paginate(query, page, PAGE_SIZE)
    context = {"form": form, "filters": filters, "rows": services.summarize(items), "pagination": pagination}
    return render_template("audience/_users.html" if is_htmx() else "audience/index.html", **context)


@bp.route("/users/new", methods=["GET", "POST"])
@editors_only
def new_user():
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(current_user.creator_id, form.data_for_service(), source="dashboard")
        except ApiError as error:
            flash(error.description, "error")
        else:
            flash("User created.", "success")
            return redirect(url_for("audience.user", user_id=user.id))
    return render_template("audience/user_form.html", form=form, user=None)


@bp.route("/users/<uuid:user_id>")
def user(user_id):
    end_user = _user(user_id)
    return render_template(
        "audience/user.html",
        view=services.detail(end_user),
        consent_form=ConsentForm(formdata=None, state=end_user.consent_state),
        link_form=LinkForm(formdata=None),
        can_edit=current_user.role in EDITORS,
    )


@bp.route("/users/<uuid:user_id>/edit", methods=["GET", "POST"])
@editors_only
def edit_user(user_id):
    end_user = _user(user_id)
    form = UserForm(obj=end_user) if request.method == "GET" else UserForm()
    shown_tags = ", ".join(services.tags_by_user([end_user.id])[end_user.id])
    if request.method == "GET":
        form.tags.data = shown_tags
        form.attributes.data = json.dumps(end_user.attributes or {}, indent=2, ensure_ascii=False)
        form.external_id.data = end_user.external_id
    if form.validate_on_submit():
        data = form.data_for_service()
        data.pop("external_id", None)
        if (form.tags.data or "").strip() == shown_tags:
            data.pop("tags")  # untouched: a tag set through the API with a comma in it stays whole
        # The form shows every attribute: one removed from the text is removed from the user.
        data["attributes"] |= {key: None for key in end_user.attributes or {} if key not in data["attributes"]}
        try:
            services.update_user(end_user, data, source="dashboard")
        except ApiError as error:
            flash(error.description, "error")
        else:
            flash("Saved.", "success")
            return redirect(url_for("audience.user", user_id=end_user.id))
    return render_template("audience/user_form.html", form=form, user=end_user)


@bp.route("/users/<uuid:user_id>/consent", methods=["POST"])
@editors_only
def consent(user_id):
    end_user = _user(user_id)
    form = ConsentForm()
    if form.validate_on_submit():
        changed = services.change_consent(end_user, form.state.data, "dashboard", form.detail.data or None)
        state = humanize_enum(form.state.data)
        flash(f"Consent is now {state}." if changed else f"Consent was already {state}.", "success")
    else:
        flash("The form expired; try again.", "error")
    return redirect(url_for("audience.user", user_id=end_user.id))


@bp.route("/users/<uuid:user_id>/link", methods=["POST"])
@editors_only
def link(user_id):
    end_user = _user(user_id)
    form = LinkForm()
    if form.validate_on_submit():
        try:
            other = _find(form.other.data.strip())
            services.link_users(end_user, other)
            flash(f"Linked: {other.label} is now part of this user.", "success")
        except ApiError as error:
            flash(error.description, "error")
    return redirect(url_for("audience.user", user_id=end_user.id))


def _find(reference: str):
    try:
        return _user(uuid.UUID(reference))
    except ValueError:
        return services.lookup(current_user.creator_id, reference)


@bp.route("/users/<uuid:user_id>/delete", methods=["POST"])
@editors_only
def delete(user_id):
    end_user = _user(user_id)
    label = end_user.label  # read first: the deleted row cannot be loaded again after the commit
    services.delete_user(end_user)
    flash(f"{label} was deleted.", "success")
    return redirect(url_for("audience.index"))


@bp.route("/imports", methods=["GET", "POST"])
@editors_only
def imports():
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            job = services.start_import(
                current_user.creator_id, upload.filename or "upload", upload.mimetype, upload.read()
            )
        except ApiError as error:
            flash(error.description, "error")
        else:
            return redirect(url_for("audience.import_detail", import_id=job.id))
    items, _ = paginate(services.imports_query(current_user.creator_id), 1, 20)
    return render_template("audience/imports.html", form=form, imports=items)


@bp.route("/imports/<uuid:import_id>")
@editors_only
def import_detail(import_id):
    """The import's progress and report; the fragment polls itself while the job runs."""
    job = services.get_import(current_user.creator_id, import_id)
    template = "audience/_import_status.html" if is_htmx() else "audience/import.html"
    return render_template(template, job=job)


@bp.route("/segments", methods=["GET", "POST"])
def segments_page():
    form = SegmentForm()
    if request.method == "POST":
        if current_user.role not in EDITORS:
            abort(403)
        if form.validate_on_submit():
            data = {"name": form.name.data, "description": form.description.data or None}
            data["filter_criteria"] = json.loads(form.criteria.data)
            try:
                segments.save_segment(current_user.creator_id, data)
            except ApiError as error:
                form.criteria.errors = [error.description]
            else:
                flash("Segment saved.", "success")
                return redirect(url_for("audience.segments_page"))
    elif not form.criteria.data:
        form.criteria.data = json.dumps(EXAMPLE_CRITERIA, indent=2)
    items, _ = paginate(segments.list_segments(current_user.creator_id), 1, 100)
    return render_template("audience/segments.html", form=form, segments=items, can_edit=current_user.role in EDITORS)


@bp.route("/segments/<uuid:segment_id>/evaluate", methods=["POST"])
def evaluate_segment(segment_id):
    result = segments.evaluate(segments.get_segment(current_user.creator_id, segment_id))
    return render_template("audience/_evaluation.html", result=result)


@bp.route("/segments/<uuid:segment_id>/delete", methods=["POST"])
@editors_only
def delete_segment(segment_id):
    segments.delete_segment(segments.get_segment(current_user.creator_id, segment_id))
    flash("Segment deleted.", "success")
    return redirect(url_for("audience.segments_page"))


EXAMPLE_CRITERIA = {
    "operator": "AND",
    "conditions": [
        {"attribute": "consent_state", "operator": "equals", "value": "OPT_IN"},
        {
            "operator": "OR",
            "conditions": [
                {"attribute": "tags", "operator": "has", "value": "vip"},
                {"attribute": "last_active_at", "operator": "within_days", "value": 30},
            ],
        },
    ],
}
