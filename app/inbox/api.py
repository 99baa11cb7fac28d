"""/api/v1/conversations: the inbox for API consumers.

List and read conversations, page through their messages, take over, reply,
hand back to the AI and close. Every role may use it (agents work the inbox).
"""

import uuid

from flask_smorest import Blueprint

from app.api.auth import auth_required, current_caller
from app.api.pagination import paginate
from app.inbox import schemas, services

bp = Blueprint(
    "inbox_api", __name__, url_prefix="/api/v1", description="Conversations: the inbox, human takeover and replies"
)


def _conversation(conversation_id: uuid.UUID):
    return services.get_conversation(current_caller().creator_id, conversation_id)


@bp.route("/conversations", methods=["GET"])
@auth_required()
@bp.arguments(schemas.ConversationQuerySchema, location="query")
@bp.response(200, schemas.ConversationListSchema)
def list_conversations(query):
    """Conversations, newest activity first; filter by status, channel and assignee, search messages and users."""
    caller = current_caller()
    items, pagination = paginate(
        services.conversations_query(
            caller.creator_id,
            status=query["status"],
            channel=query["channel"],
            assignee=query["assignee"],
            search=query["search"],
            member=caller.member,
        ),
        query["page"],
        query["limit"],
    )
    return {"conversations": services.summarize(items), "pagination": pagination}


@bp.route("/conversations/<uuid:conversation_id>", methods=["GET"])
@auth_required()
@bp.response(200, schemas.ConversationDetailSchema)
def get_conversation(conversation_id: uuid.UUID):
    """One conversation with the end user's profile and memories (messages: see /messages)."""
    return services.conversation_detail(_conversation(conversation_id), with_messages=False)


@bp.route("/conversations/<uuid:conversation_id>/messages", methods=["GET"])
@auth_required()
@bp.arguments(schemas.MessagePageQuerySchema, location="query")
@bp.response(200, schemas.MessageListSchema)
def list_messages(query, conversation_id: uuid.UUID):
    """The conversation's messages, oldest first, system notes (joined, handed back, closed) included."""
    items, pagination = paginate(services.messages_query(_conversation(conversation_id)), query["page"], query["limit"])
    return {"messages": items, "pagination": pagination}


@bp.route("/conversations/<uuid:conversation_id>/reply", methods=["POST"])
@auth_required()
@bp.arguments(schemas.AgentReplySchema)
@bp.response(201, schemas.InboxMessageSchema)
@bp.alt_response(409, description="Closed, or another member has the conversation")
def reply(data, conversation_id: uuid.UUID):
    """Reply as a human; it is pushed to the widget. Replying takes the conversation over (the AI pauses)."""
    return services.reply(_conversation(conversation_id), current_caller().member, data["message"])


@bp.route("/conversations/<uuid:conversation_id>/handover", methods=["POST"])
@auth_required()
@bp.arguments(schemas.HandoverActionSchema)
@bp.response(200, schemas.ConversationSchema)
@bp.alt_response(409, description="Closed, or already with the assistant")
def handover(data, conversation_id: uuid.UUID):
    """take_over: you get the conversation and the AI pauses. hand_back: the AI answers again."""
    conversation = _conversation(conversation_id)
    action = services.take_over if data["action"] == "take_over" else services.hand_back
    return services.summarize([action(conversation, current_caller().member)])[0]


@bp.route("/conversations/<uuid:conversation_id>/close", methods=["POST"])
@auth_required()
@bp.arguments(schemas.CloseConversationSchema)
@bp.response(200, schemas.ConversationDetailSchema)
@bp.alt_response(409, description="Already closed")
def close(data, conversation_id: uuid.UUID):
    """Close with a reason (resolved, no_response, ...) and a summary; the visitor's next message reopens it."""
    conversation = services.close(
        _conversation(conversation_id), current_caller().member, data["reason"], data["summary"]
    )
    return services.conversation_detail(conversation, with_messages=False)
