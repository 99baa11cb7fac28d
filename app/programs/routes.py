"""Program pages: the list, the HTMX builder, lifecycle, badges, preview, enrollments and analytics.

The builder's changes (add, edit, connect, move, delete a node) each save the draft
at once (`validate=False`: work in progress may be incomplete) and answer with the
node list, plus the diagram, the problems panel and the program's state out of band.
A node form whose own fields are wrong is shown back with its errors and not saved.
"""

import uuid

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.api.errors import ApiError
from app.api.pagination import paginate
from app.audience import services as audience
from app.auth.web import roles_required
from app.extensions import db
from app.htmx import is_htmx
from app.models import EndUser, EnrollmentStatus, ProgramStatus, Role
from app.programs import bp, builder, diagram, preview, services
from app.programs.forms import (
    AddNodeForm,
    BadgeForm,
    EnrollForm,
    FilterForm,
    PreviewForm,
    ProgramForm,
    SettingsForm,
    node_form,
)

PAGE_SIZE = 25
USER_CHOICES = 50  # users offered in the enroll form's select; the search narrows them


@bp.before_request
@login_required
@roles_required(Role.OWNER, Role.ADMIN)
def require_editor():
    pass


def _program(program_id):
    return services.get_program(current_user.creator_id, program_id)


# --- The list ----------------------------------------------------------------------


def _index(form=None, status=200):
    filters_form = FilterForm(request.args)
    filters = filters_form.filters()
    page = max(request.args.get("page", 1, type=int), 1)
    query = services.programs_query(current_user.creator_id, status=filters.get("status"), search=filters.get("q"))
    programs, pagination = paginate(query, page, PAGE_SIZE)
    context = {
        "programs": programs,
        "counts": services.counts([p.id for p in programs]),
        "filters_form": filters_form,
        "filters": filters,
        "pagination": pagination,
        "form": form or ProgramForm(formdata=None),
    }
    if is_htmx() and request.method == "GET":
        return render_template("programs/_list.html", **context)
    return render_template("programs/index.html", **context), status


@bp.route("/")
def index():
    return _index()


@bp.route("/new", methods=["GET", "POST"])
def create():
    if request.method == "GET":  # the address bar after a refused form: back to the page that holds it
        return redirect(url_for("programs.index"))
    form = ProgramForm()
    if not form.validate_on_submit():
        return _index(form=form, status=422)
    program, _ = services.create_program(
        current_user.creator_id, {"name": form.name.data, "description": form.description.data}
    )
    flash(f"“{program.name}” created: add its steps.", "success")
    return redirect(url_for("programs.builder", program_id=program.id))


# --- The builder -------------------------------------------------------------------


def _builder_context(program, forms=None, open_node=None, message=None, **extra) -> dict:
    """Everything the builder page and its fragments show. `forms` replaces a node's form
    (submitted values with their errors); `open_node` is the node whose editor stays open."""
    definition = program.flow_definition or {}
    report = services.check_flow(program.creator_id, definition)
    badges = services.badges(program.creator_id)
    nodes = definition.get("nodes") or []
    labels = {n["id"]: services.node_label(n) for n in nodes}
    cards = [
        {
            "node": node,
            "label": labels[node["id"]],
            "title": services.NODE_TITLES.get(node.get("type"), node.get("type")),
            "text": labels[node["id"]].partition(": ")[2],
            "is_first": index == 0,
            "is_last": index == len(nodes) - 1,
            "form": (forms or {}).get(node["id"]) or node_form(node, badges),
            "errors": [p.message for p in report.errors if p.node_id == node["id"]],
            "warnings": [p.message for p in report.warnings if p.node_id == node["id"]],
            "targets": builder.targets_of(definition, node["id"]),
        }
        for index, node in enumerate(nodes)
    ]
    context = {
        "program": program,
        "report": report,
        "cards": cards,
        "labels": labels,
        "badges": badges,
        "diagram": diagram.render(definition, report),
        "general_problems": [p for p in report.errors + report.warnings if p.node_id is None],
        "editable": program.status != ProgramStatus.ARCHIVED,
        "open_node": open_node,
        "message": message,
        "add_form": AddNodeForm(formdata=None),
    }
    return context | extra


def _builder_page(program, status=200, **context):
    settings_form = context.pop("settings_form", None)
    preview_form = context.pop("preview_form", None)
    if settings_form is None:
        settings_form = SettingsForm(formdata=None)
        settings_form.load(program)
    settings_form.set_badges(services.badges(program.creator_id))
    page = render_template(
        "programs/builder.html",
        **_builder_context(program, **context),
        settings_form=settings_form,
        preview_form=preview_form or PreviewForm(formdata=None),
        versions=services.versions(program),
    )
    return page, status


@bp.route("/<uuid:program_id>", endpoint="builder")
def builder_view(program_id):
    return _builder_page(_program(program_id))


def _nodes_response(program, status=200, **context):
    """The node list with the diagram, problems and state out of band; a full page without HTMX."""
    if not is_htmx():
        if status >= 400:
            return _builder_page(program, status=status, **context)
        return redirect(url_for("programs.builder", program_id=program.id, _anchor=context.get("open_node") or ""))
    return render_template("programs/_builder_update.html", **_builder_context(program, **context)), status


def _save(program, definition, open_node=None):
    """Autosave the draft (never a published version) and answer with the updated builder."""
    try:
        services.update_program(program, {"flow_definition": definition}, validate=False)
    except ApiError as error:  # archived: restore first
        db.session.rollback()
        return _nodes_response(program, status=error.code, message=error.description)
    return _nodes_response(program, open_node=open_node)


def _change(program, edit, open_node=None):
    """Apply a builder edit to the draft; a refused edit is shown on the builder, nothing saved."""
    try:
        definition = edit(program.flow_definition or {})
    except builder.EditError as error:
        return _nodes_response(program, status=422, message=str(error))
    return _save(program, definition, open_node)


@bp.route("/<uuid:program_id>/nodes", methods=["POST"])
def add_node(program_id):
    program = _program(program_id)
    form = AddNodeForm()
    badge_ids = [str(b.id) for b in services.badges(program.creator_id)]
    try:
        definition, node_id = builder.add_node(program.flow_definition or {}, form.kind.data, badge_ids)
    except builder.EditError as error:
        return _nodes_response(program, status=422, message=str(error))
    return _save(program, definition, open_node=node_id)


@bp.route("/<uuid:program_id>/nodes/<node_id>", methods=["POST"])
def edit_node(program_id, node_id):
    """Save a node's data, unless a field is wrong: then the form shows why and the draft keeps the old data."""
    program = _program(program_id)
    definition = program.flow_definition or {}
    try:
        node = builder.find(definition, node_id)
    except builder.EditError as error:
        return _nodes_response(program, status=404, message=str(error))
    form = node_form(node, services.badges(program.creator_id), formdata=request.form)
    if form is None:
        return _nodes_response(program, status=422, message="The start step has nothing to edit.")
    if form.validate():
        candidate = builder.set_data(definition, node_id, form.node_data())
        errors = builder.data_errors(services.check_flow(program.creator_id, candidate), candidate, node_id)
        if not errors:
            return _save(program, candidate, open_node=node_id)
        form.show_errors(errors)
    message = "Not saved: correct the fields marked below."
    return _nodes_response(program, status=422, forms={node_id: form}, open_node=node_id, message=message)


@bp.route("/<uuid:program_id>/nodes/<node_id>/connect", methods=["POST"])
def connect_node(program_id, node_id):
    """Set where a step goes next (a condition: where its yes and its no go); replaces its edges."""
    program = _program(program_id)
    targets = {key: request.form.get(key) or None for key in ("next", "yes", "no") if key in request.form}
    return _change(program, lambda d: builder.connect(d, node_id, targets))


@bp.route("/<uuid:program_id>/nodes/<node_id>/move", methods=["POST"])
def move_node(program_id, node_id):
    program = _program(program_id)
    direction = "up" if request.form.get("direction") == "up" else "down"
    return _change(program, lambda d: builder.move(d, node_id, direction))


@bp.route("/<uuid:program_id>/nodes/<node_id>/delete", methods=["POST"])
def delete_node(program_id, node_id):
    program = _program(program_id)
    return _change(program, lambda d: builder.delete(d, node_id))


# --- Lifecycle, settings, versions ---------------------------------------------------


@bp.route("/<uuid:program_id>/publish", methods=["POST"])
def publish(program_id):
    program = _program(program_id)
    try:
        version = services.publish(program, current_user.id)
    except ApiError as error:
        # Back to the builder's own URL, which shows each problem on its node: a reload of the
        # refusal would otherwise re-POST, and /publish has no page to GET.
        db.session.rollback()
        flash(error.description, "error")
        return redirect(url_for("programs.builder", program_id=program.id), 303)
    flash(f"Version {version.number} published: new enrollments run on it.", "success")
    return redirect(url_for("programs.builder", program_id=program.id))


@bp.route("/<uuid:program_id>/archive", methods=["POST"])
def archive(program_id):
    program = services.archive(_program(program_id))
    flash(f"“{program.name}” is archived: no new enrollments; running ones finish.", "success")
    return redirect(url_for("programs.builder", program_id=program.id))


@bp.route("/<uuid:program_id>/restore", methods=["POST"])
def restore(program_id):
    program = services.restore(_program(program_id))
    flash(f"“{program.name}” is restored ({program.status}).", "success")
    return redirect(url_for("programs.builder", program_id=program.id))


@bp.route("/<uuid:program_id>/delete", methods=["POST"])
def delete(program_id):
    program = _program(program_id)
    try:
        services.delete_program(program)
    except ApiError as error:
        flash(error.description, "error")
        return redirect(url_for("programs.builder", program_id=program.id))
    flash(f"“{program.name}” deleted.", "success")
    return redirect(url_for("programs.index"))


@bp.route("/<uuid:program_id>/settings", methods=["GET", "POST"])
def settings(program_id):
    program = _program(program_id)
    if request.method == "GET":  # the address bar after refused settings: the builder holds the form
        return redirect(url_for("programs.builder", program_id=program.id, _anchor="settings"))
    form = SettingsForm()
    form.set_badges(services.badges(program.creator_id))
    if form.validate_on_submit():
        data = {"name": form.name.data, "description": form.description.data, "settings": form.settings()}
        try:
            services.update_program(program, data)
        except ApiError as error:
            db.session.rollback()
            for detail in error.details or [{"field": "name", "message": error.description}]:
                form.show_error(detail["field"], detail["message"])
        else:
            flash("Settings saved: they apply from the next published version.", "success")
            return redirect(url_for("programs.builder", program_id=program.id, _anchor="settings"))
    return _builder_page(program, status=422, settings_form=form)


@bp.route("/<uuid:program_id>/versions/<int:number>")
def version(program_id, number):
    """A published version, read only: its diagram and steps as they were frozen."""
    program = _program(program_id)
    frozen = services.get_version(program, number)
    report = services.check_flow(program.creator_id, frozen.flow_definition)
    return render_template(
        "programs/version.html",
        program=program,
        version=frozen,
        diagram=diagram.render(frozen.flow_definition, report),
        labels=[services.node_label(n) for n in frozen.flow_definition.get("nodes") or []],
    )


@bp.route("/<uuid:program_id>/preview", methods=["POST"])
def preview_run(program_id):
    """A dry run of the draft as a test user: nothing stored, nothing sent."""
    program = _program(program_id)
    form = PreviewForm()
    transcript = None
    if form.validate_on_submit():
        transcript = preview.run(program, form.test_user(), form.answer_list())
    status = 200 if transcript is not None else 422
    if is_htmx():
        return render_template(
            "programs/_preview.html", program=program, preview_form=form, transcript=transcript
        ), status
    return _builder_page(program, status=status, preview_form=form, transcript=transcript)


# --- Badges ----------------------------------------------------------------------------


@bp.route("/badges", methods=["GET", "POST"])
def badges():
    form = BadgeForm()
    if form.validate_on_submit():
        try:
            badge = services.create_badge(
                current_user.creator_id, form.name.data, form.description.data, form.icon.data
            )
        except ApiError as error:
            form.name.errors.append(error.description)
        else:
            flash(f"Badge {badge.icon} {badge.name} created.", "success")
            return redirect(url_for("programs.badges"))
    status = 422 if form.errors else 200
    return render_template("programs/badges.html", form=form, badges=services.badges(current_user.creator_id)), status


@bp.route("/badges/<uuid:badge_id>/delete", methods=["POST"])
def delete_badge(badge_id):
    badge = services.get_badge(current_user.creator_id, badge_id)
    try:
        services.delete_badge(badge)
    except ApiError as error:  # a program still awards it
        flash(error.description, "error")
    else:
        flash(f"Badge {badge.name} deleted.", "success")
    return redirect(url_for("programs.badges"))


# --- Enrollments and analytics ----------------------------------------------------------


def _user_choices(search: str | None, selected: str | None = None) -> list[tuple[str, str]]:
    query = audience.users_query(current_user.creator_id, search=search)  # newest first
    users = db.session.scalars(query.limit(USER_CHOICES)).all()
    if selected and all(str(u.id) != selected for u in users):
        try:
            users.insert(0, audience.get_user(current_user.creator_id, uuid.UUID(selected)))
        except (ValueError, ApiError):
            pass
    return [(str(u.id), f"{u.label} · {u.channel}") for u in users]


def _enrollments_page(program, form=None, status=200):
    filter_status = request.args.get("status") if request.args.get("status") in EnrollmentStatus.ALL else None
    page = max(request.args.get("page", 1, type=int), 1)
    enrollments, pagination = paginate(services.enrollments_query(program, filter_status), page, PAGE_SIZE)
    user_ids = [e.end_user_id for e in enrollments]
    users = {u.id: u for u in db.session.scalars(select(EndUser).where(EndUser.id.in_(user_ids)))}
    versions = services.versions(program)
    if form is None:
        form = EnrollForm(formdata=None)
    user_q = request.values.get("user_q", "")
    form.user_id.choices = [("", "Choose a user…")] + _user_choices(user_q, form.user_id.data)
    page_html = render_template(
        "programs/enrollments.html",
        program=program,
        analytics=services.analytics(program),
        drop_off=services.drop_off(program),
        enrollments=enrollments,
        users=users,
        step_labels=_step_labels(enrollments, {v.id: v.flow_definition for v in versions}),
        version_numbers={v.id: v.number for v in versions},
        pagination=pagination,
        filter_status=filter_status,
        form=form,
        user_q=user_q,
    )
    return page_html, status


def _step_labels(enrollments, version_flows) -> dict:
    """The label of each enrollment's current step, from the version it runs on."""
    labels = {}
    for enrollment in enrollments:
        nodes = (version_flows.get(enrollment.version_id) or {}).get("nodes") or []
        node = next((n for n in nodes if n.get("id") == enrollment.current_node_id), None)
        labels[enrollment.id] = services.node_label(node) if node else "—"
    return labels


@bp.route("/<uuid:program_id>/enrollments")
def enrollments(program_id):
    return _enrollments_page(_program(program_id))


@bp.route("/<uuid:program_id>/enrollments/users")
def enroll_user_options(program_id):
    """The enroll form's user choices for a search (HTMX)."""
    _program(program_id)
    choices = _user_choices(request.args.get("user_q"))
    return render_template("programs/_user_options.html", choices=choices)


@bp.route("/<uuid:program_id>/enrollments", methods=["POST"])
def enroll(program_id):
    program = _program(program_id)
    form = EnrollForm()
    if form.validate_on_submit():
        try:
            user = audience.get_user(current_user.creator_id, uuid.UUID(form.user_id.data))
            services.enroll(user, program, "dashboard", form.channel.data or None)
        except ValueError:
            form.user_id.errors.append("Choose a user.")
        except ApiError as error:
            db.session.rollback()
            target = form.channel if (error.details or [{}])[0].get("field") == "channel" else form.user_id
            target.errors.append(error.description)
        else:
            flash(f"{user.label} is enrolled: the first step runs now.", "success")
            return redirect(url_for("programs.enrollments", program_id=program.id))
    return _enrollments_page(program, form=form, status=422)


@bp.route("/<uuid:program_id>/enrollments/<uuid:enrollment_id>/unenroll", methods=["POST"])
def unenroll(program_id, enrollment_id):
    program = _program(program_id)
    enrollment = services.get_enrollment(current_user.creator_id, enrollment_id)
    if enrollment.program_id != program.id:
        raise ApiError(404, "Enrollment not found.")
    services.unenroll(enrollment)
    flash("Unenrolled: no further step runs for them.", "success")
    return redirect(url_for("programs.enrollments", program_id=program.id, status=request.args.get("status")))
