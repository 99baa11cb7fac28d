"""End users as the audience: list, create, update, delete, look up by phone,
link two of them into one person, and change consent through the one policy."""

import re
import uuid
from zoneinfo import available_timezones

from sqlalchemy import delete, exists, func, or_, select, update

from app.api.errors import ApiError
from app.assistant import services as assistant
from app.audience.consent import set_consent
from app.extensions import db
from app.jobs import enqueue
from app.models import (
    ConsentEvent,
    ConsentState,
    Conversation,
    EndUser,
    EndUserIdentity,
    Memory,
    Message,
    Tag,
    UserImport,
)
from app.programs import services as programs
from app.tenancy import get_for_creator

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TIMEZONES = frozenset(available_timezones())
CHANNELS = ("web", "api", "sms", "whatsapp")
SORTS = {
    "created_at": EndUser.created_at,
    "last_active_at": EndUser.last_active_at,
    "engagement_score": EndUser.engagement_score,
}
RECENT_INTERACTIONS = 20
CONSENT_HISTORY = 50
# Merging two people: the more protective consent wins (a STOP is never lost).
CONSENT_RANK = {ConsentState.PENDING: 0, ConsentState.OPT_IN: 1, ConsentState.OPT_OUT: 2, ConsentState.STOP: 3}
TAG_MAX = 60
TAG_SEPARATORS = re.compile(r"[,;|]")


def phone_error(phone: str) -> str | None:
    if not E164.match(phone or ""):
        return "Not an E.164 phone number: use + then the country code and number, digits only (+14155551234)."
    return None


def timezone_error(zone: str) -> str | None:
    return None if zone in TIMEZONES else f"Unknown timezone {zone!r}: use an IANA name such as America/New_York."


def clean_tags(tags) -> list[str]:
    """Trimmed, de-duplicated tags in the order given, empty ones dropped."""
    return list(dict.fromkeys(t.strip()[:TAG_MAX] for t in tags or [] if t and t.strip()))


def split_tags(text: str | None) -> list[str]:
    """Tags typed as one string ("runner, vip"), by the form or in an import's cell: the one rule.

    Commas, semicolons and pipes all separate (spreadsheets export lists with any of them).
    """
    return clean_tags(TAG_SEPARATORS.split(text or ""))


# --- Reading -----------------------------------------------------------------


def get_user(creator_id: uuid.UUID, user_id: uuid.UUID) -> EndUser:
    return get_for_creator(EndUser, creator_id, user_id, "User")


def users_query(
    creator_id: uuid.UUID,
    channel: str | None = None,
    status: str | None = None,
    consent_state: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    sort: str | None = None,
    order: str = "desc",
):
    """The creator's users, filtered and sorted (users without the sort value last)."""
    query = select(EndUser).where(EndUser.creator_id == creator_id)
    if channel:
        query = query.where(
            exists().where(EndUserIdentity.end_user_id == EndUser.id, EndUserIdentity.channel == channel)
        )
    if status:
        query = query.where(EndUser.is_active.is_(status == "active"))
    if consent_state:
        query = query.where(EndUser.consent_state == consent_state)
    if tag:
        query = query.where(exists().where(Tag.end_user_id == EndUser.id, Tag.tag == tag))
    if search:
        pattern = f"%{search.strip()}%"
        query = query.where(
            or_(
                EndUser.display_name.ilike(pattern),
                EndUser.external_id.ilike(pattern),
                EndUser.phone_e164.ilike(pattern),
                EndUser.email.ilike(pattern),
                exists().where(EndUserIdentity.end_user_id == EndUser.id, EndUserIdentity.external_id.ilike(pattern)),
            )
        )
    column = SORTS.get(sort or "created_at", EndUser.created_at)
    ordered = column.asc() if order == "asc" else column.desc()
    return query.order_by(ordered.nulls_last(), EndUser.id)


def tags_by_user(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    tags: dict[uuid.UUID, list[str]] = {user_id: [] for user_id in user_ids}
    if user_ids:
        rows = db.session.execute(
            select(Tag.end_user_id, Tag.tag).where(Tag.end_user_id.in_(user_ids)).order_by(Tag.tag)
        )
        for user_id, tag in rows:
            tags[user_id].append(tag)
    return tags


def interactions_by_user(user_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Messages exchanged with each user (theirs, the AI's and agents'), across their conversations."""
    counts = dict.fromkeys(user_ids, 0)
    if user_ids:
        rows = db.session.execute(
            select(Conversation.end_user_id, func.count(Message.id))
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Conversation.end_user_id.in_(user_ids), Message.sender != "system")
            .group_by(Conversation.end_user_id)
        )
        counts.update(dict(rows.all()))
    return counts


def summarize(users: list[EndUser]) -> list[dict]:
    """List rows: the user with their tags, interaction and enrollment counts, in three queries for the page."""
    ids = [user.id for user in users]
    tags, interactions = tags_by_user(ids), interactions_by_user(ids)
    enrollments = programs.active_enrollment_counts(ids)
    return [_row(user, tags[user.id], interactions[user.id], enrollments[user.id]) for user in users]


def _row(user: EndUser, tags: list[str], interactions: int, enrollments) -> dict:
    return {
        "user": user,
        "id": user.id,
        "label": user.label,
        "tags": tags,
        "total_interactions": interactions,
        "program_enrollments": enrollments,
    }


def detail(user: EndUser) -> dict:
    """Everything the user page and GET /users/<id> show."""
    identities = db.session.scalars(
        select(EndUserIdentity).where(EndUserIdentity.end_user_id == user.id).order_by(EndUserIdentity.created_at)
    ).all()
    history = db.session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.end_user_id == user.id)
        .order_by(ConsentEvent.created_at.desc())
        .limit(CONSENT_HISTORY)
    ).all()
    recent = db.session.execute(
        select(Message, Conversation.channel)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.end_user_id == user.id, Message.sender != "system")
        .order_by(Message.created_at.desc())
        .limit(RECENT_INTERACTIONS)
    ).all()
    conversations = db.session.scalars(
        select(Conversation).where(Conversation.end_user_id == user.id).order_by(Conversation.last_message_at.desc())
    ).all()
    enrollments = programs.enrollments_of(user)
    return _row(user, tags_by_user([user.id])[user.id], interactions_by_user([user.id])[user.id], enrollments) | {
        "identities": identities,
        "consent_history": history,
        "memories": assistant.memories_for(user),
        "recent_interactions": [_interaction(message, channel) for message, channel in recent],
        "conversations": conversations,
        "badges_earned": programs.badges_of(user),
    }


def _interaction(message: Message, channel: str) -> dict:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "interaction_type": "message_received" if message.sender == "user" else "message_sent",
        "sender": message.sender,
        "text": message.content[:280],
        "channel": channel,
        "created_at": message.created_at,
    }


def lookup(creator_id: uuid.UUID, phone: str) -> EndUser:
    """The user reachable at this E.164 phone (their own number, or an SMS/WhatsApp identity)."""
    if error := phone_error(phone):
        raise ApiError(422, error, details=[{"field": "phone", "message": error}])
    user = db.session.scalar(
        select(EndUser)
        .where(
            EndUser.creator_id == creator_id,
            or_(
                EndUser.phone_e164 == phone,
                exists().where(
                    EndUserIdentity.end_user_id == EndUser.id,
                    EndUserIdentity.channel.in_(["sms", "whatsapp"]),
                    EndUserIdentity.external_id.in_([phone, f"whatsapp:{phone}"]),
                ),
            ),
        )
        .order_by(EndUser.created_at)
        .limit(1)
    )
    if user is None:
        raise ApiError(404, "No user has this phone number.")
    return user


# --- Writing -----------------------------------------------------------------


def _identity_taken(creator_id: uuid.UUID, channel: str, external_id: str, except_user=None) -> bool:
    query = select(EndUserIdentity.id).where(
        EndUserIdentity.creator_id == creator_id,
        EndUserIdentity.channel == channel,
        EndUserIdentity.external_id == external_id,
    )
    if except_user is not None:
        query = query.where(EndUserIdentity.end_user_id != except_user.id)
    return db.session.scalar(query) is not None


def _phone_taken(creator_id: uuid.UUID, phone: str, except_user=None) -> bool:
    query = select(EndUser.id).where(EndUser.creator_id == creator_id, EndUser.phone_e164 == phone)
    if except_user is not None:
        query = query.where(EndUser.id != except_user.id)
    return db.session.scalar(query) is not None or _identity_taken(creator_id, "sms", phone, except_user)


def conflict(field: str, message: str) -> ApiError:
    return ApiError(409, message, details=[{"field": field, "message": message}])


def create_user(creator_id: uuid.UUID, data: dict, source: str = "api") -> EndUser:
    """A new user with one identity: SMS at their phone when given, else the API id given."""
    phone = data.get("phone_e164")
    channel, external_id = ("sms", phone) if phone else ("api", data.get("external_id"))
    if not external_id:
        raise ApiError(
            422, "Give a phone_e164 or an external_id.", details=[{"field": "phone_e164", "message": "Required."}]
        )
    if phone and _phone_taken(creator_id, phone):
        raise conflict("phone_e164", f"A user with the phone {phone} already exists.")
    if _identity_taken(creator_id, channel, external_id):
        raise conflict("external_id", f"A user with the external id {external_id!r} already exists.")
    user = EndUser(
        creator_id=creator_id,
        channel=channel,
        external_id=external_id,
        phone_e164=phone,
        profile_data={},
        attributes={},
        consent_state=ConsentState.PENDING,
    )
    db.session.add(user)
    db.session.flush()
    db.session.add(
        EndUserIdentity(creator_id=creator_id, end_user_id=user.id, channel=channel, external_id=external_id)
    )
    if phone and data.get("external_id") and not _identity_taken(creator_id, "api", data["external_id"]):
        db.session.add(
            EndUserIdentity(creator_id=creator_id, end_user_id=user.id, channel="api", external_id=data["external_id"])
        )
    _apply(user, {k: v for k, v in data.items() if k not in ("phone_e164", "external_id")}, source)
    db.session.commit()
    programs.auto_enroll(user)  # those it can reach: an API user at once, a phone once they opt in
    return user


def update_user(user: EndUser, data: dict, source: str = "api") -> EndUser:
    """Change what is given. Attributes merge (a null value removes the key); tags and profile_data replace."""
    phone = data.get("phone_e164")
    if phone and phone != user.phone_e164:
        if _phone_taken(user.creator_id, phone, except_user=user):
            raise conflict("phone_e164", f"Another user has the phone {phone}; link the two users instead.")
        user.phone_e164 = phone
        if not _identity_taken(user.creator_id, "sms", phone):
            db.session.add(
                EndUserIdentity(creator_id=user.creator_id, end_user_id=user.id, channel="sms", external_id=phone)
            )
    _apply(user, {k: v for k, v in data.items() if k != "phone_e164"}, source)
    db.session.commit()
    return user


def _apply(user: EndUser, data: dict, source: str) -> None:
    for field in ("display_name", "email", "timezone", "language", "is_active"):
        if field in data:
            setattr(user, field, data[field])
    if "profile_data" in data:
        user.profile_data = dict(data["profile_data"] or {})
    if "attributes" in data:
        merged = dict(user.attributes or {})
        for key, value in (data["attributes"] or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        user.attributes = merged
    if "tags" in data:
        set_tags(user, data["tags"])
    if data.get("consent_state"):
        set_consent(user, data["consent_state"], source, data.get("consent_detail"))


def set_tags(user: EndUser, tags) -> None:
    wanted = clean_tags(tags)
    db.session.execute(delete(Tag).where(Tag.end_user_id == user.id, Tag.tag.not_in(wanted)))
    have = set(db.session.scalars(select(Tag.tag).where(Tag.end_user_id == user.id)))
    db.session.add_all(
        Tag(creator_id=user.creator_id, end_user_id=user.id, tag=tag) for tag in wanted if tag not in have
    )


def change_consent(user: EndUser, state: str, source: str, detail: str | None = None) -> bool:
    """Change consent through the policy and commit; False when it already was `state`."""
    changed = set_consent(user, state, source, detail)
    db.session.commit()
    return changed


def delete_user(user: EndUser) -> None:
    """Delete the user and everything that hangs on them (the database's cascades, also on SQLite)."""
    purge(EndUser.__table__, [user.id])
    db.session.commit()


def purge(table, ids: list) -> None:
    """Delete rows of `table` by primary key, first applying every ON DELETE rule that points at it.

    PostgreSQL applies them itself; SQLite (no foreign key enforcement) needs them done here.
    """
    if not ids:
        return
    for child in db.metadata.sorted_tables:
        for fk in child.foreign_keys:
            if fk.column.table is not table:
                continue
            column = fk.parent
            if fk.ondelete == "CASCADE" and "id" in child.c:
                purge(child, list(db.session.scalars(select(child.c.id).where(column.in_(ids)))))
            elif fk.ondelete == "CASCADE":
                db.session.execute(delete(child).where(column.in_(ids)))
            elif fk.ondelete == "SET NULL":
                db.session.execute(update(child).where(column.in_(ids)).values({column.name: None}))
    db.session.execute(delete(table).where(table.c.id.in_(ids)))


def link_users(user: EndUser, other: EndUser) -> EndUser:
    """Merge `other` into `user`: one person on several channels becomes one user.

    Identities, conversations, memories, tags, consent history and anything
    else pointing at `other` move to `user`; `user`'s own values win where
    both have one; the more protective consent is kept; `other` is deleted.
    """
    if user.id == other.id:
        raise ApiError(422, "A user cannot be linked to themselves.", details=[{"field": "other_user_id"}])
    _merge_fields(user, other)
    _move_unique(Memory, Memory.key, user, other)
    _move_unique(Tag, Tag.tag, user, other)
    # Two conversations of the same session id cannot share a user: the moved one is renamed.
    clashing = select(Conversation.session_id).where(Conversation.end_user_id == user.id)
    db.session.execute(
        update(Conversation)
        .where(Conversation.end_user_id == other.id, Conversation.session_id.in_(clashing))
        .values(session_id=Conversation.session_id + f"#linked-{str(other.id)[:8]}")
    )
    for child in db.metadata.sorted_tables:
        for fk in child.foreign_keys:
            if fk.column.table is EndUser.__table__ and child.name not in ("memories", "end_user_tags"):
                db.session.execute(update(child).where(fk.parent == other.id).values({fk.parent.name: user.id}))
    stricter = other.consent_state if CONSENT_RANK[other.consent_state] > CONSENT_RANK[user.consent_state] else None
    db.session.flush()
    db.session.expunge(other)
    db.session.execute(delete(EndUser).where(EndUser.id == other.id))
    if stricter:
        set_consent(user, stricter, "link", f"kept from the linked user {other.label}")
    db.session.commit()
    return user


def _merge_fields(user: EndUser, other: EndUser) -> None:
    for field in ("display_name", "email", "phone_e164", "timezone", "language"):
        if not getattr(user, field) and getattr(other, field):
            setattr(user, field, getattr(other, field))
    user.attributes = (other.attributes or {}) | (user.attributes or {})
    user.profile_data = (other.profile_data or {}) | (user.profile_data or {})
    user.engagement_score = max(user.engagement_score or 0, other.engagement_score or 0)
    if other.last_active_at and (not user.last_active_at or other.last_active_at > user.last_active_at):
        user.last_active_at = other.last_active_at


def _move_unique(model, key_column, user: EndUser, other: EndUser) -> None:
    """Move rows unique per (user, key): where `user` already has the key, the other's row goes."""
    mine = select(key_column).where(model.end_user_id == user.id)
    db.session.execute(delete(model).where(model.end_user_id == other.id, key_column.in_(mine)))
    db.session.execute(update(model).where(model.end_user_id == other.id).values(end_user_id=user.id))


# --- Imports -----------------------------------------------------------------

IMPORT_FORMATS = {"csv": "csv", "json": "json", "text/csv": "csv", "application/json": "json"}


def import_format(filename: str, content_type: str | None) -> str | None:
    """csv or json from the file's name, else its content type; None for anything else."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return IMPORT_FORMATS.get(extension) or IMPORT_FORMATS.get((content_type or "").split(";")[0].strip())


def start_import(creator_id: uuid.UUID, filename: str, content_type: str | None, data: bytes):
    """Store the upload and enqueue its processing on the `default` queue."""
    from app.audience.tasks import import_users  # tasks import this module

    file_format = import_format(filename, content_type)
    if file_format is None:
        raise ApiError(422, "Upload a .csv or .json file.", details=[{"field": "file", "message": "CSV or JSON only."}])
    if not data.strip():
        raise ApiError(422, "The file is empty.", details=[{"field": "file", "message": "The file is empty."}])
    job = UserImport(creator_id=creator_id, filename=filename[:255], file_format=file_format, data=data)
    db.session.add(job)
    db.session.commit()
    enqueue(import_users, str(job.id), job_timeout=3600)
    return job


def get_import(creator_id: uuid.UUID, import_id: uuid.UUID):
    return get_for_creator(UserImport, creator_id, import_id, "Import")


def imports_query(creator_id: uuid.UUID):
    return select(UserImport).where(UserImport.creator_id == creator_id).order_by(UserImport.created_at.desc())
