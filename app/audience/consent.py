"""Consent: who may be messaged, and the history of every change.

The policy, in one place:
- A reply to someone who wrote to us (the AI's answer, an agent's reply, a
  keyword's confirmation) may go to PENDING and OPT_IN users.
- A message we start (campaign, check-in, program step) goes to OPT_IN only.
- STOP and OPT_OUT block everything, except the HELP answer and the single
  confirmation of the STOP itself, which carriers require.
"""

import re
import uuid

from sqlalchemy import insert

from app.extensions import db
from app.models import ConsentEvent, ConsentState, EndUser
from app.models.base import utcnow

REPLY_ALLOWED = (ConsentState.PENDING, ConsentState.OPT_IN)

# Carrier keywords (CTIA): the whole message, any case, trailing punctuation ignored.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
START_WORDS = {"START", "YES", "UNSTOP"}
HELP_WORDS = {"HELP", "INFO"}
_TRAILING_PUNCTUATION = re.compile(r"[.!?]+$")


def keyword_kind(body: str) -> str:
    """'stop', 'start', 'help' when the whole body is such a keyword, else 'message'."""
    word = _TRAILING_PUNCTUATION.sub("", (body or "").strip()).strip().upper()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return "message"


def may_send(user: EndUser, proactive: bool) -> bool:
    """Whether a message may go to `user` now; `proactive` when we start the exchange."""
    if proactive:
        return user.consent_state == ConsentState.OPT_IN
    return user.consent_state in REPLY_ALLOWED


def set_consent(user: EndUser, state: str, source: str, detail: str | None = None) -> bool:
    """Change the user's consent and record it; False (and nothing recorded) when it is already `state`."""
    if state not in ConsentState.ALL:
        raise ValueError(f"unknown consent state {state!r}")
    if user.consent_state == state:
        return False
    db.session.add(
        ConsentEvent(
            creator_id=user.creator_id,
            end_user_id=user.id,
            state=state,
            previous_state=user.consent_state,
            source=source,
            detail=detail,
        )
    )
    user.consent_state = state
    user.consent_updated_at = utcnow()
    return True


def record_initial_consent(creator_id, states: dict, source: str, detail: str | None = None) -> None:
    """set_consent for many users created as PENDING a moment ago (a bulk import), in one INSERT.

    `states` maps user id -> the state they were given; PENDING ones need no history.
    """
    rows = [
        {
            "id": uuid.uuid4(),
            "creator_id": creator_id,
            "end_user_id": user_id,
            "state": state,
            "previous_state": ConsentState.PENDING,
            "source": source,
            "detail": detail,
            "created_at": utcnow(),
        }
        for user_id, state in states.items()
        if state != ConsentState.PENDING
    ]
    if rows:
        db.session.execute(insert(ConsentEvent), rows)
