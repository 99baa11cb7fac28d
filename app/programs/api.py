"""/api/v1/programs, program enrollment of users, and badges.

Every role may read programs, enrollments and badges; owners and admins change
them and enroll users. A published version is never edited: PUT on the program
edits its draft, and the next publish makes it a new version.
"""

import uuid

from flask_smorest import Blueprint
from sqlalchemy import select

from app.api.auth import auth_required, current_caller
from app.api.errors import ApiError
from app.api.pagination import paginate
from app.api.schemas import ErrorSchema
from app.audience import services as audience
from app.extensions import db
from app.models import Conversation, EndUser, Enrollment, Program, ProgramVersion, Role
from app.programs import schemas, services

bp = Blueprint("programs_api", __name__, url_prefix="/api/v1", description="Coaching programs, enrollments and badges")
EDITORS = (Role.OWNER, Role.ADMIN)


def _creator_id() -> uuid.UUID:
    return current_caller().creator_id


def _program(program_id: uuid.UUID) -> Program:
    return services.get_program(_creator_id(), program_id)


def _columns(row) -> dict:
    """A row as a dict, so computed fields (counts, analytics) can join it in one response."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def _report(program: Program) -> dict:
    return services.check_flow(program.creator_id, program.flow_definition).as_dict()


def _with_counts(program: Program, **extra) -> dict:
    return _columns(program) | services.counts([program.id])[program.id] | extra


# --- Programs ---------------------------------------------------------------------------


@bp.route("/programs", methods=["GET"])
@auth_required(*EDITORS)
@bp.arguments(schemas.ProgramQuerySchema, location="query")
@bp.response(200, schemas.ProgramListSchema)
def list_programs(query):
    """Programs, most recently changed first, with enrollment count and completion rate; filter and search."""
    items, pagination = paginate(
        services.programs_query(_creator_id(), query["status"], query["search"]), query["page"], query["limit"]
    )
    counts = services.counts([program.id for program in items])
    return {"programs": [_columns(p) | counts[p.id] for p in items], "pagination": pagination}


@bp.route("/programs", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.ProgramCreateSchema)
@bp.response(201, schemas.ProgramSchema)
@bp.alt_response(422, description="The flow or settings are not valid: details name each node and field")
def create_program(data):
    """A draft program. Its flow is validated; warnings (a {variable} no user has) come back in `validation`."""
    program, report = services.create_program(_creator_id(), data)
    return _with_counts(program, validation=report.as_dict())


@bp.route("/programs/<uuid:program_id>", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.ProgramDetailSchema)
def get_program(program_id: uuid.UUID):
    """The program with its draft flow, analytics and drop-off per node of the live version."""
    program = _program(program_id)
    analytics = services.analytics(program)
    return _columns(program) | {
        "enrollment_count": analytics["total_enrollments"],
        "completion_rate": analytics["completion_rate"],
        "analytics": analytics,
        "drop_off": services.drop_off(program),
        "validation": _report(program),
    }


@bp.route("/programs/<uuid:program_id>", methods=["PUT"])
@auth_required(*EDITORS)
@bp.arguments(schemas.ProgramUpdateSchema)
@bp.response(200, schemas.ProgramSchema)
@bp.alt_response(409, description="The program is archived")
@bp.alt_response(422, description="The flow or settings are not valid: nothing is saved")
def update_program(data, program_id: uuid.UUID):
    """Change the draft. On a published program users keep the live version until you publish again."""
    program = _program(program_id)
    report = services.update_program(program, data)
    return _with_counts(program, validation=report.as_dict())


@bp.route("/programs/<uuid:program_id>", methods=["DELETE"])
@auth_required(*EDITORS)
@bp.response(204)
@bp.alt_response(409, description="The program was published: archive it instead")
def delete_program(program_id: uuid.UUID):
    """Delete a program that was never published."""
    services.delete_program(_program(program_id))


@bp.route("/programs/<uuid:program_id>/publish", methods=["POST"])
@auth_required(*EDITORS)
@bp.response(200, schemas.ProgramStatusSchema)
@bp.alt_response(409, description="The program is archived")
@bp.alt_response(422, description="The draft is not valid: details name each node")
def publish_program(program_id: uuid.UUID):
    """Freeze the draft as the next version; new enrollments run on it, running ones stay on theirs."""
    program = _program(program_id)
    member = current_caller().member
    services.publish(program, member.id if member else None)
    return program


@bp.route("/programs/<uuid:program_id>/archive", methods=["POST"])
@auth_required(*EDITORS)
@bp.response(200, schemas.ProgramStatusSchema)
def archive_program(program_id: uuid.UUID):
    """No new enrollments; running ones finish on their version."""
    return services.archive(_program(program_id))


@bp.route("/programs/<uuid:program_id>/restore", methods=["POST"])
@auth_required(*EDITORS)
@bp.response(200, schemas.ProgramStatusSchema)
def restore_program(program_id: uuid.UUID):
    """Back to published (or draft, if it never was): it takes enrollments again."""
    return services.restore(_program(program_id))


@bp.route("/programs/<uuid:program_id>/analytics", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.ProgramAnalyticsSchema)
def program_analytics(program_id: uuid.UUID):
    """Enrollments, completion, engagement, and where users stop."""
    program = _program(program_id)
    return {"program_id": program.id, "analytics": services.analytics(program), "drop_off": services.drop_off(program)}


# --- Versions ---------------------------------------------------------------------------


@bp.route("/programs/<uuid:program_id>/versions", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.VersionListSchema)
def list_versions(program_id: uuid.UUID):
    return {"versions": services.versions(_program(program_id))}


@bp.route("/programs/<uuid:program_id>/versions/<int:number>", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.VersionDetailSchema)
def get_version(program_id: uuid.UUID, number: int):
    """A published version's flow and settings, exactly as its enrollments run them."""
    return services.get_version(_program(program_id), number)


@bp.route("/programs/<uuid:program_id>/versions/<int:number>", methods=["PUT", "PATCH", "DELETE"])
@auth_required(*EDITORS)
@bp.alt_response(409, schema=ErrorSchema, description="Always: published versions are immutable")
def change_version(program_id: uuid.UUID, number: int):
    """Always refused: published versions are immutable."""
    services.get_version(_program(program_id), number)  # 404 first for a version that is not there
    raise ApiError(
        409,
        f"Version {number} is published, and published versions are immutable: users on it finish it as it was. "
        f"Edit the program (PUT /api/v1/programs/{program_id}) to make a new draft, then publish it.",
    )


# --- Enrollments ------------------------------------------------------------------------


def _enrollment_views(enrollments: list[Enrollment]) -> list[dict]:
    """Enrollments with their user's label, version number and session, in three queries for the page."""
    user_ids = {e.end_user_id for e in enrollments}
    version_ids = {e.version_id for e in enrollments}
    conversation_ids = {e.conversation_id for e in enrollments}
    labels = {u.id: u.label for u in db.session.scalars(select(EndUser).where(EndUser.id.in_(user_ids)))}
    numbers = dict(
        db.session.execute(
            select(ProgramVersion.id, ProgramVersion.number).where(ProgramVersion.id.in_(version_ids))
        ).all()
    )
    sessions = dict(
        db.session.execute(
            select(Conversation.id, Conversation.session_id).where(Conversation.id.in_(conversation_ids))
        ).all()
    )
    return [
        _columns(e)
        | {
            "user_label": labels.get(e.end_user_id),
            "version": numbers.get(e.version_id),
            "session_id": sessions.get(e.conversation_id),
        }
        for e in enrollments
    ]


@bp.route("/programs/<uuid:program_id>/enrollments", methods=["GET"])
@auth_required(*EDITORS)
@bp.arguments(schemas.EnrollmentQuerySchema, location="query")
@bp.response(200, schemas.EnrollmentListSchema)
def list_enrollments(query, program_id: uuid.UUID):
    """Who is in the program, where they are, and their answers; newest first."""
    enrollments = services.enrollments_query(_program(program_id), query["status"])
    items, pagination = paginate(enrollments, query["page"], query["limit"])
    return {"enrollments": _enrollment_views(items), "pagination": pagination}


@bp.route("/users/<uuid:user_id>/programs/<uuid:program_id>/enroll", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.EnrollRequestSchema, required=False)
@bp.response(201, schemas.EnrollmentSchema)
@bp.alt_response(409, description="The user is already in this program")
@bp.alt_response(
    422, description="Not published or archived, the channel cannot reach the user, or no opt-in on SMS/WhatsApp"
)
def enroll(data, user_id: uuid.UUID, program_id: uuid.UUID):
    """Start the user on the program's latest version; its first step runs at once."""
    user = audience.get_user(_creator_id(), user_id)
    enrollment = services.enroll(user, _program(program_id), "api", data.get("channel"))
    return _enrollment_views([enrollment])[0]


@bp.route("/users/<uuid:user_id>/programs/<uuid:program_id>/unenroll", methods=["POST"])
@auth_required(*EDITORS)
@bp.response(200, schemas.EnrollmentSchema)
def unenroll(user_id: uuid.UUID, program_id: uuid.UUID):
    """Stop the user's active enrollment: no more steps run (404 when they are not in the program)."""
    user = audience.get_user(_creator_id(), user_id)
    return _enrollment_views([services.unenroll(services.active_enrollment(user, _program(program_id)))])[0]


@bp.route("/users/<uuid:user_id>/badges", methods=["GET"])
@auth_required(*EDITORS)
@bp.response(200, schemas.EarnedBadgeListSchema)
def user_badges(user_id: uuid.UUID):
    """The badges the user earned, oldest first."""
    return {"badges": services.badges_of(audience.get_user(_creator_id(), user_id))}


# --- Badges -----------------------------------------------------------------------------


@bp.route("/badges", methods=["GET"])
@auth_required(*EDITORS)
@bp.arguments(schemas.BadgeQuerySchema, location="query")
@bp.response(200, schemas.BadgeListSchema)
def list_badges(query):
    """Your badges, by name (an award_badge node or a program's completion_badge gives them)."""
    badges, pagination = paginate(services.badges_query(_creator_id()), query["page"], query["limit"])
    return {"badges": badges, "pagination": pagination}


@bp.route("/badges", methods=["POST"])
@auth_required(*EDITORS)
@bp.arguments(schemas.BadgeSchema)
@bp.response(201, schemas.BadgeSchema)
@bp.alt_response(409, description="You already have a badge with this name")
def create_badge(data):
    return services.create_badge(_creator_id(), data["name"], data.get("description"), data.get("icon"))


@bp.route("/badges/<uuid:badge_id>", methods=["DELETE"])
@auth_required(*EDITORS)
@bp.response(204)
@bp.alt_response(409, description="A program awards this badge")
def delete_badge(badge_id: uuid.UUID):
    """Delete a badge no program awards; users who earned it lose it."""
    services.delete_badge(services.get_badge(_creator_id(), badge_id))
