"""/api/v1 reporting and monitoring of SMS and WhatsApp: message status, inbound activity, the outbox."""

from datetime import UTC

from flask_smorest import Blueprint

from app.api.auth import auth_required, current_caller
from app.api.pagination import paginate
from app.messaging import reporting, schemas

bp = Blueprint(
    "messaging_api", __name__, url_prefix="/api/v1", description="Outbox, message status and inbound activity"
)


def _filters(args: dict) -> dict:
    def utc(value):
        return value.replace(tzinfo=value.tzinfo or UTC) if value else None

    return {
        "status": args["status"],
        "channel": args["channel"],
        "user_id": args["user"],
        "start": utc(args["start_date"]),
        "end": utc(args["end_date"]),
    }


@bp.route("/reporting/messages/status", methods=["GET"])
@auth_required()
@bp.arguments(schemas.OutboxQuerySchema, location="query")
@bp.response(200, schemas.StatusReportSchema)
def message_status_report(args):
    """Outbound messages by status over a period, with the delivery rate (delivered / sent to Twilio)."""
    creator_id = current_caller().creator_id
    filters = _filters(args)
    items, pagination = paginate(reporting.outbox_query(creator_id, **filters), args["page"], args["limit"])
    return {"summary": reporting.status_summary(creator_id, **filters), "messages": items, "pagination": pagination}


@bp.route("/monitoring/inbound", methods=["GET"])
@auth_required()
@bp.arguments(schemas.InboundQuerySchema, location="query")
@bp.response(200, schemas.InboundActivitySchema)
def inbound_monitoring(args):
    """Inbound messages of the last `hours`: totals, STOP/START/HELP commands, the newest `limit`."""
    return reporting.inbound_activity(current_caller().creator_id, args["hours"], args["limit"])


@bp.route("/outbox", methods=["GET"])
@auth_required()
@bp.arguments(schemas.OutboxQuerySchema, location="query")
@bp.response(200, schemas.OutboxListSchema)
def outbox_list(args):
    """Every outbound message and its fate: filter by status, channel (id or sms/whatsapp) and user."""
    query = reporting.outbox_query(current_caller().creator_id, **_filters(args))
    items, pagination = paginate(query, args["page"], args["limit"])
    return {"messages": items, "pagination": pagination}
