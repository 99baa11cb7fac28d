"""The inbox: conversations as the team sees them, and the human takeover.

A conversation is `active` (the AI answers), `waiting_for_human` (escalated),
`with_agent` (a team member has it and the AI is paused, see
pipeline.respond) or `closed`. Members take over, reply, hand back to the AI
and close; each step leaves a system message in the history and is pushed to
the visitor's widget through Redis pub/sub (app/realtime.py), so it reaches
the socket whichever process holds it.

Replying takes the conversation over implicitly: once a human has written,
an AI answer to the visitor's next message would talk over them. A reply
never takes a conversation away from another member (409); taking over from
a colleague is an explicit action. API keys act as the team: no member is
assigned and the creator's name is shown to the visitor.
"""

import logging
import uuid
from dataclasses import dataclass, field

from redis.exceptions import RedisError
from sqlalchemy import func, or_, select

from app.api.errors import ApiError
from app.assistant import services as assistant
from app.extensions import db
from app.filters import humanize_enum
from app.messaging import outbox
from app.models import Conversation, ConversationStatus, Creator, EndUser, Member, Memory, Message
from app.models.base import utcnow
from app.realtime import publish
from app.tenancy import get_for_creator

log = logging.getLogger(__name__)

STATUSES = [status.value for status in ConversationStatus]
OPEN = "open"  # a status filter: everything not closed
CHANNELS = ["web", "api", "sms", "whatsapp"]
ME, UNASSIGNED = "me", "unassigned"
CLOSE_REASONS = ["resolved", "no_response", "transferred", "spam", "other"]
PREVIEW_CHARS = 140


@dataclass
class ConversationView:
    """A conversation with what the inbox shows beside it; other attributes come from the conversation."""

    conversation: Conversation
    assigned_member: Member | None = None
    last_message: Message | None = None
    message_count: int = 0
    messages: list[Message] = field(default_factory=list)
    memories: list[Memory] = field(default_factory=list)
    agents: dict = field(default_factory=dict)  # member id -> Member, for the names on agent messages

    def __getattr__(self, name):
        if name == "conversation":  # not set yet (copy, unpickling): never recurse
            raise AttributeError(name)
        return getattr(self.conversation, name)

    @property
    def escalated(self) -> bool:
        return self.conversation.status == ConversationStatus.WAITING


# --- Reading ------------------------------------------------------------------


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conversations_query(
    creator_id: uuid.UUID,
    status: str | None = None,
    channel: str | None = None,
    assignee: str | uuid.UUID | None = None,
    search: str | None = None,
    member: Member | None = None,
):
    """The creator's conversations, newest activity first.

    `assignee` is a member id, "me" (needs `member`) or "unassigned";
    `search` matches message text and the end user's name, external id or e-mail.
    """
    query = (
        select(Conversation)
        .join(EndUser, EndUser.id == Conversation.end_user_id)
        .where(Conversation.creator_id == creator_id)
    )
    if status == OPEN:
        query = query.where(Conversation.status != ConversationStatus.CLOSED)
    elif status:
        query = query.where(Conversation.status == status)
    if channel:
        query = query.where(Conversation.channel == channel)
    if assignee == UNASSIGNED:
        query = query.where(Conversation.assigned_member_id.is_(None))
    elif assignee == ME:
        if member is None:
            raise ApiError(422, "API keys have no member: filter by a member id.", details=_field("assignee"))
        query = query.where(Conversation.assigned_member_id == member.id)
    elif assignee:
        query = query.where(Conversation.assigned_member_id == uuid.UUID(str(assignee)))
    if search and search.strip():
        pattern = _like(search.strip())
        in_messages = select(Message.conversation_id).where(
            Message.creator_id == creator_id, Message.content.ilike(pattern, escape="\\")
        )
        query = query.where(
            or_(
                EndUser.display_name.ilike(pattern, escape="\\"),
                EndUser.external_id.ilike(pattern, escape="\\"),
                EndUser.email.ilike(pattern, escape="\\"),
                Conversation.id.in_(in_messages),
            )
        )
    return query.order_by(Conversation.last_message_at.desc(), Conversation.id)


def _field(name: str, message: str = "Not valid.") -> list[dict]:
    return [{"field": name, "message": message}]


def summarize(conversations: list[Conversation]) -> list[ConversationView]:
    """List rows: each conversation with its assignee, last message and message count (three queries)."""
    ids = [c.id for c in conversations]
    if not ids:
        return []
    said = (Message.conversation_id.in_(ids), Message.sender != "system")
    counts = dict(
        db.session.execute(
            select(Message.conversation_id, func.count()).where(*said).group_by(Message.conversation_id)
        ).all()
    )
    newest_first = func.row_number().over(
        partition_by=Message.conversation_id, order_by=(Message.created_at.desc(), Message.id)
    )
    ranked = select(Message.id, newest_first.label("rank")).where(*said).subquery()
    latest_ids = select(ranked.c.id).where(ranked.c.rank == 1)
    latest = {m.conversation_id: m for m in db.session.scalars(select(Message).where(Message.id.in_(latest_ids)))}
    members = _members({c.assigned_member_id for c in conversations} - {None})
    return [
        ConversationView(c, members.get(c.assigned_member_id), latest.get(c.id), counts.get(c.id, 0))
        for c in conversations
    ]


def _members(ids) -> dict:
    if not ids:
        return {}
    return {m.id: m for m in db.session.scalars(select(Member).where(Member.id.in_(ids)))}


def get_conversation(creator_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
    return get_for_creator(Conversation, creator_id, conversation_id, "Conversation")


def messages_query(conversation: Conversation):
    """Every message of the conversation (system notes included), oldest first."""
    return (
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.creator_id == conversation.creator_id)
        .order_by(Message.created_at, Message.id)
    )


def conversation_detail(conversation: Conversation, with_messages: bool = True) -> ConversationView:
    """The conversation with its assignee, the end user's memories and (for the page) the whole history."""
    view = summarize([conversation])[0]
    view.memories = assistant.memories_for(conversation.end_user)
    if with_messages:
        view.messages = list(db.session.scalars(messages_query(conversation)))
        view.agents = _members({m.member_id for m in view.messages} - {None})
    return view


def version(conversation: Conversation) -> str:
    """Changes whenever something the conversation page shows changes (polling answers 204 otherwise)."""
    count = db.session.scalar(select(func.count()).where(Message.conversation_id == conversation.id))
    return f"{conversation.updated_at.timestamp():.6f}-{conversation.status}-{count}"


def team(creator_id: uuid.UUID) -> list[Member]:
    """Members a conversation can be assigned to, for the assignee filter."""
    return list(
        db.session.scalars(
            select(Member).where(Member.creator_id == creator_id, Member.is_active.is_(True)).order_by(Member.full_name)
        )
    )


# --- The human takeover -------------------------------------------------------


def take_over(conversation: Conversation, member: Member | None) -> Conversation:
    """A team member takes the conversation: the AI pauses until it is handed back."""
    _lock(conversation)
    _refuse_closed(conversation)
    if conversation.status == ConversationStatus.WITH_AGENT and conversation.assigned_member_id == _id(member):
        return conversation  # already theirs: nothing to announce twice
    _take(conversation, member)
    db.session.commit()
    _announce_takeover(conversation, member)
    return conversation


def reply(conversation: Conversation, member: Member | None, text: str) -> Message:
    """Store an agent message and push it to the visitor; takes the conversation over if needed."""
    text = text.strip()
    if not text:
        raise ApiError(422, "Write a message.", details=_field("message", "Must not be empty."))
    _lock(conversation)
    _refuse_closed(conversation)
    holder = conversation.assigned_member_id
    with_agent = conversation.status == ConversationStatus.WITH_AGENT
    if with_agent and holder is not None and holder != _id(member):
        name = agent_name(conversation, db.session.get(Member, holder))
        raise ApiError(409, f"{name} has this conversation. Take it over first to reply.")
    # Taken by an API key (no member): the first member to reply becomes its assignee.
    took_over = not with_agent or (holder is None and member is not None)
    if took_over:
        _take(conversation, member)
    message = assistant.add_message(conversation, "agent", text, member_id=_id(member))
    outbound = outbox.queue_reply(conversation, message, "agent_reply")  # SMS/WhatsApp: same transaction
    db.session.commit()
    outbox.dispatch(outbound)
    if took_over:
        _announce_takeover(conversation, member)
    _push(
        conversation,
        {
            "type": "message",
            "sender": "agent",
            "text": message.content,
            "message_id": message.id,
            "agent_id": _id(member),
            "agent_name": agent_name(conversation, member),
            "created_at": _iso(message.created_at),
        },
    )
    return message


def hand_back(conversation: Conversation, member: Member | None) -> Conversation:
    """The AI answers again; an open escalation is dismissed with it."""
    _lock(conversation)
    _refuse_closed(conversation)
    if conversation.status == ConversationStatus.ACTIVE:
        raise ApiError(409, "The assistant already has this conversation.")
    conversation.status = ConversationStatus.ACTIVE
    conversation.assigned_member_id = None
    conversation.escalation_reason = None
    assistant.add_message(
        conversation, "system", f"{agent_name(conversation, member)} handed the conversation back to the AI"
    )
    db.session.commit()
    _push(
        conversation,
        {"type": "status", "status": conversation.status, "text": "You are chatting with the assistant again."},
    )
    return conversation


def close(conversation: Conversation, member: Member | None, reason: str, summary: str | None = None) -> Conversation:
    """Close with a reason and a summary (both for the team; the visitor only learns it is closed)."""
    _lock(conversation)
    _refuse_closed(conversation)
    conversation.status = ConversationStatus.CLOSED
    conversation.close_reason = reason.strip()
    conversation.summary = (summary or "").strip() or None
    conversation.assigned_member_id = None
    assistant.add_message(
        conversation,
        "system",
        f"{agent_name(conversation, member)} closed the conversation "
        f"({humanize_enum(conversation.close_reason).lower()})",
    )
    db.session.commit()
    _push(conversation, {"type": "status", "status": conversation.status, "text": "This conversation has been closed."})
    return conversation


def _lock(conversation: Conversation) -> None:
    """Re-read the row, locked on PostgreSQL, so two members acting at once see each other's change."""
    db.session.refresh(conversation, with_for_update=True)


def _refuse_closed(conversation: Conversation) -> None:
    if conversation.status == ConversationStatus.CLOSED:
        raise ApiError(409, "This conversation is closed. It reopens when the user writes again.")


def _take(conversation: Conversation, member: Member | None) -> None:
    conversation.status = ConversationStatus.WITH_AGENT
    conversation.assigned_member_id = _id(member)
    assistant.add_message(conversation, "system", f"{agent_name(conversation, member)} joined the conversation")


def _announce_takeover(conversation: Conversation, member: Member | None) -> None:
    text = f"{agent_name(conversation, member)} joined the conversation"
    _push(
        conversation,
        {
            "type": "handover_initiated",
            "status": conversation.status,
            "agent_id": _id(member),
            "agent_name": agent_name(conversation, member),
            "message": text,
            "text": text,
        },
    )


def _id(member: Member | None) -> uuid.UUID | None:
    return member.id if member is not None else None


def agent_name(conversation: Conversation, member: Member | None) -> str:
    if member is not None:
        return member.full_name
    creator = db.session.get(Creator, conversation.creator_id)
    return creator.company_name or creator.full_name


def _iso(moment) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _push(conversation: Conversation, event: dict) -> None:
    """Publish to the visitor's socket. What is stored stays stored if Redis fails:
    the visitor gets it with the history on reconnect."""
    event.setdefault("timestamp", _iso(utcnow()))
    try:
        publish(conversation.id, event)
    except RedisError:
        log.warning("could not publish to the widget", extra={"conversation_id": str(conversation.id)})
