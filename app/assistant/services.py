"""End users, conversations and memories, as every channel uses them."""

import uuid

from sqlalchemy import select

from app.api.errors import ApiError
from app.extensions import db
from app.models import Conversation, ConversationStatus, EndUser, EndUserIdentity, Memory, Message
from app.models.base import utcnow
from app.tenancy import get_for_creator

HISTORY_TURNS = 10


def get_or_create_end_user(creator_id: uuid.UUID, channel: str, external_id: str) -> EndUser:
    return end_user_for(creator_id, channel, external_id)[0]


def end_user_for(creator_id: uuid.UUID, channel: str, external_id: str) -> tuple[EndUser, bool]:
    """The person known on `channel` as `external_id` (through their identities, so a linked
    person is found from any of their channels), created on first contact; and whether it was."""
    user = db.session.scalar(
        select(EndUser)
        .join(EndUserIdentity, EndUserIdentity.end_user_id == EndUser.id)
        .where(
            EndUserIdentity.creator_id == creator_id,
            EndUserIdentity.channel == channel,
            EndUserIdentity.external_id == external_id,
        )
    )
    if user is None:
        user = EndUser(creator_id=creator_id, channel=channel, external_id=external_id, profile_data={}, attributes={})
        db.session.add(user)
        db.session.flush()
        db.session.add(
            EndUserIdentity(creator_id=creator_id, end_user_id=user.id, channel=channel, external_id=external_id)
        )
        db.session.flush()
        return user, True
    return user, False


def get_or_create_conversation(end_user: EndUser, session_id: str) -> Conversation:
    conversation = db.session.scalar(
        select(Conversation).where(Conversation.end_user_id == end_user.id, Conversation.session_id == session_id)
    )
    if conversation is None:
        conversation = Conversation(
            creator_id=end_user.creator_id, end_user_id=end_user.id, session_id=session_id, channel=end_user.channel
        )
        db.session.add(conversation)
        db.session.flush()
    elif conversation.status == ConversationStatus.CLOSED:
        conversation.status = ConversationStatus.ACTIVE  # the user came back: the conversation reopens
    return conversation


def find_conversation(creator_id: uuid.UUID, external_user_id: str, session_id: str, channel: str = "api"):
    row = db.session.execute(
        select(Conversation)
        .join(EndUserIdentity, EndUserIdentity.end_user_id == Conversation.end_user_id)
        .where(
            EndUserIdentity.creator_id == creator_id,
            EndUserIdentity.external_id == external_user_id,
            EndUserIdentity.channel == channel,
            Conversation.creator_id == creator_id,
            Conversation.session_id == session_id,
        )
    ).scalar_one_or_none()
    if row is None:
        raise ApiError(404, "Session not found.")
    return row


def history(conversation: Conversation, limit: int = HISTORY_TURNS) -> list[Message]:
    """The last turns since the context was last reset, oldest first."""
    query = select(Message).where(
        Message.conversation_id == conversation.id, Message.sender.in_(["user", "ai", "agent"])
    )
    if conversation.context_reset_at:
        query = query.where(Message.created_at > conversation.context_reset_at)
    return list(reversed(db.session.scalars(query.order_by(Message.created_at.desc()).limit(limit)).all()))


def reset_context(conversation: Conversation) -> None:
    conversation.context_reset_at = utcnow()
    db.session.commit()


def add_message(conversation: Conversation, sender: str, content: str, **fields) -> Message:
    message = Message(
        creator_id=conversation.creator_id, conversation_id=conversation.id, sender=sender, content=content, **fields
    )
    conversation.last_message_at = message.created_at = utcnow()
    db.session.add(message)
    return message


# --- Memories ----------------------------------------------------------------


def memories_for(end_user: EndUser) -> list[Memory]:
    return list(db.session.scalars(select(Memory).where(Memory.end_user_id == end_user.id).order_by(Memory.key)))


def remember(end_user: EndUser, key: str, value: str, kind: str = "fact", source: str = "conversation") -> Memory:
    """Store or update one memory (one value per key)."""
    memory = db.session.scalar(select(Memory).where(Memory.end_user_id == end_user.id, Memory.key == key))
    if memory is None:
        memory = Memory(creator_id=end_user.creator_id, end_user_id=end_user.id, key=key)
        db.session.add(memory)
    memory.value, memory.kind, memory.source = value, kind, source
    db.session.flush()
    return memory


def get_end_user(creator_id: uuid.UUID, user_id: uuid.UUID) -> EndUser:
    return get_for_creator(EndUser, creator_id, user_id, "User")


def forget(end_user: EndUser, memory_id: uuid.UUID) -> None:
    memory = get_for_creator(Memory, end_user.creator_id, memory_id, "Memory")
    if memory.end_user_id != end_user.id:
        raise ApiError(404, "Memory not found.")
    db.session.delete(memory)
    db.session.commit()
