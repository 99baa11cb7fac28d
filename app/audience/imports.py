"""Bulk import of users from CSV or JSON: parsing, per-row validation and
set-based upserts, one batch at a time.

A CSV's header must name `phone_e164` or `external_id`; known columns fill
the profile (name, email, timezone, language, consent_state, tags as
"a, b": commas, semicolons or pipes, as in the dashboard's tags field), every
other column becomes a custom attribute. JSON is a list of
objects with the same keys (or {"users": [...]}), `attributes` and
`profile_data` as objects and `tags` as a list. Rows are matched by phone
(their number or SMS identity), else by external id (their API identity).
Row numbers are lines of the CSV (the header is row 1) or positions in the
JSON list (from 1).
"""

import csv
import io
import json
import uuid

from sqlalchemy import insert, or_, select, text

from app.audience.consent import record_initial_consent, set_consent
from app.audience.services import E164, EMAIL, TIMEZONES, clean_tags, split_tags, tags_by_user
from app.extensions import db
from app.models import ConsentState, EndUser, EndUserIdentity, Tag
from app.models.base import utcnow

KEY_COLUMNS = ("phone_e164", "external_id")
ALIASES = {"phone": "phone_e164", "name": "display_name", "consent": "consent_state"}
PROFILE_COLUMNS = ("display_name", "email", "timezone", "language", "consent_state", "tags")
MAX_ROWS = 1_000_000
MAX_ERRORS_KEPT = 1000


class ImportRefused(Exception):
    """The whole file is refused (nothing imported): the message says why."""


def parse(data: bytes, file_format: str) -> list[tuple[int, dict]]:
    """(row number, raw record) pairs, or ImportRefused for a file that cannot be read as a whole."""
    try:
        text = data.decode("utf-8-sig")  # a BOM from Excel is dropped
    except UnicodeDecodeError as error:
        raise ImportRefused(
            f"The file is not UTF-8 text (byte {error.start}). Save it as UTF-8 and upload again."
        ) from None
    rows = _parse_json(text) if file_format == "json" else _parse_csv(text)
    if not rows:
        raise ImportRefused("The file has no rows to import.")
    if len(rows) > MAX_ROWS:
        raise ImportRefused(f"The file has {len(rows)} rows; split it into files of at most {MAX_ROWS}.")
    return rows


def _parse_csv(text: str) -> list[tuple[int, dict]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused("The file is empty.") from None
    except csv.Error as error:
        raise ImportRefused(f"The header cannot be read as CSV: {error}.") from None
    columns = [ALIASES.get(name.strip().lower(), name.strip()) for name in header]
    _check_header(columns, header)
    rows = []
    try:
        for number, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue  # blank lines, such as a trailing one
            rows.append((number, {"_extra": values[len(columns) :]} | dict(zip(columns, values, strict=False))))
    except csv.Error as error:
        raise ImportRefused(f"Row {reader.line_num} cannot be read as CSV: {error}.") from None
    return rows


def _check_header(columns: list[str], header: list[str]) -> None:
    found = ", ".join(h or "(empty)" for h in header[:8]) + ("…" if len(header) > 8 else "")
    if not any(c in KEY_COLUMNS for c in columns):
        raise ImportRefused(
            f"The header must have a phone_e164 or external_id column; found: {found}. "
            "The first line of the file names the columns, e.g. phone_e164,name,city,consent_state."
        )
    if any(not c for c in columns):
        raise ImportRefused(f"A column of the header has no name; found: {found}.")
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise ImportRefused(f"The header names {', '.join(duplicates)} more than once.")


def _parse_json(text: str) -> list[tuple[int, dict]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportRefused(f"The file is not valid JSON: {error.msg} at line {error.lineno}.") from None
    if isinstance(document, dict):
        document = document.get("users")
    if not isinstance(document, list):
        raise ImportRefused('JSON imports are a list of users, or {"users": [...]}.')
    return [(number, item) for number, item in enumerate(document, start=1)]


def normalize(number: int, raw) -> tuple[dict | None, list[dict]]:
    """One row as the values to store, or the row's errors [{row, field, message}]."""
    if not isinstance(raw, dict):
        return None, [{"row": number, "field": None, "message": "Each user is an object."}]
    errors = []

    def error(field, message):
        errors.append({"row": number, "field": field, "message": message})

    if raw.get("_extra") and any(v.strip() for v in raw["_extra"]):
        error(None, "More values than columns in the header.")
    record = {"attributes": {}, "profile_data": {}}
    for key, value in raw.items():
        key = ALIASES.get(key, key)
        if key == "_extra":
            continue
        if isinstance(value, str):
            value = value.strip()
        if value in (None, ""):
            continue  # an empty cell leaves the field as it is
        if key in KEY_COLUMNS or key in PROFILE_COLUMNS:
            record[key] = value
        elif key in ("attributes", "profile_data"):
            if isinstance(value, dict):
                record[key].update(value)
            else:
                error(key, f"{key} must be an object.")
        else:
            record["attributes"][key] = value
    _validate(record, error)
    if not record.get("phone_e164") and not record.get("external_id"):
        error("phone_e164", "Give a phone_e164 or an external_id.")
    return (None, errors) if errors else (record, [])


def _validate(record: dict, error) -> None:
    for field in ("phone_e164", "external_id", "display_name", "email", "timezone", "language", "consent_state"):
        if field in record and not isinstance(record[field], str):
            record[field] = str(record[field])
    phone = record.get("phone_e164")
    if phone is not None and not E164.match(phone):
        error("phone_e164", f"{phone!r} is not an E.164 phone number (+ then country code and number).")
    if len(record.get("external_id", "")) > 200:
        error("external_id", "At most 200 characters.")
    if "email" in record and not EMAIL.match(record["email"]):
        error("email", f"{record['email']!r} is not an e-mail address.")
    if "timezone" in record and record["timezone"] not in TIMEZONES:
        error("timezone", f"Unknown timezone {record['timezone']!r}; use an IANA name such as Europe/Paris.")
    if len(record.get("language", "")) > 10:
        error("language", "At most 10 characters (a code such as en or pt-BR).")
    if "consent_state" in record:
        record["consent_state"] = record["consent_state"].upper()
        if record["consent_state"] not in ConsentState.ALL:
            error("consent_state", f"Use one of {', '.join(ConsentState.ALL)}.")
    if "tags" in record:
        tags = record["tags"]
        if isinstance(tags, str):
            record["tags"] = split_tags(tags)  # a cell splits like the dashboard's tags field
        elif isinstance(tags, list) and all(isinstance(t, str) for t in tags):
            record["tags"] = clean_tags(tags)
        else:
            error("tags", 'Tags are a list of text, such as ["runner", "vip"], or one text, "runner, vip".')
    if len(record.get("display_name", "")) > 200:
        error("display_name", "At most 200 characters.")


def key_of(record: dict) -> tuple[str, str]:
    return ("sms", record["phone_e164"]) if record.get("phone_e164") else ("api", record["external_id"])


# --- Upserting one batch -----------------------------------------------------


def upsert(creator_id: uuid.UUID, records: list[dict]) -> tuple[int, int]:
    """Create or update a batch of valid, distinct records: a few queries for the whole batch.

    Returns (created, updated). The caller commits.
    """
    existing = _existing(creator_id, records)
    new = [r for r in records if key_of(r) not in existing]
    tags = tags_by_user([u.id for u in existing.values()])
    for record in records:
        if (user := existing.get(key_of(record))) is not None:
            _update(user, record, tags[user.id])
    _insert(creator_id, new)
    return len(new), len(records) - len(new)


def _existing(creator_id: uuid.UUID, records: list[dict]) -> dict[tuple[str, str], EndUser]:
    """The batch's users already there, by key: phones by number or SMS identity, ids by API identity."""
    phones = [r["phone_e164"] for r in records if r.get("phone_e164")]
    external_ids = [r["external_id"] for r in records if not r.get("phone_e164")]
    found: dict[tuple[str, str], uuid.UUID] = {}
    if phones:
        rows = db.session.execute(
            select(EndUser.phone_e164, EndUser.id).where(
                EndUser.creator_id == creator_id, EndUser.phone_e164.in_(phones)
            )
        )
        found.update((("sms", phone), user_id) for phone, user_id in rows)
    lookups = [("sms", p) for p in phones if ("sms", p) not in found] + [("api", e) for e in external_ids]
    if lookups:
        rows = db.session.execute(
            select(EndUserIdentity.channel, EndUserIdentity.external_id, EndUserIdentity.end_user_id).where(
                EndUserIdentity.creator_id == creator_id,
                or_(
                    (EndUserIdentity.channel == "sms")
                    & EndUserIdentity.external_id.in_([k for c, k in lookups if c == "sms"]),
                    (EndUserIdentity.channel == "api")
                    & EndUserIdentity.external_id.in_([k for c, k in lookups if c == "api"]),
                ),
            )
        )
        found.update(((channel, external_id), user_id) for channel, external_id, user_id in rows)
    users = {u.id: u for u in db.session.scalars(select(EndUser).where(EndUser.id.in_(set(found.values()))))}
    return {key: users[user_id] for key, user_id in found.items()}


def _update(user: EndUser, record: dict, have: list[str]) -> None:
    for field in ("display_name", "email", "timezone", "language"):
        if field in record:
            setattr(user, field, record[field])
    if record.get("phone_e164") and not user.phone_e164:
        user.phone_e164 = record["phone_e164"]
    if record["attributes"]:
        user.attributes = (user.attributes or {}) | record["attributes"]
    if record["profile_data"]:
        user.profile_data = (user.profile_data or {}) | record["profile_data"]
    for tag in record.get("tags", []):
        if tag not in have:
            have.append(tag)  # the same person may come twice in a batch (by phone and by id)
            db.session.add(Tag(creator_id=user.creator_id, end_user_id=user.id, tag=tag))
    if record.get("consent_state"):
        set_consent(user, record["consent_state"], "import")


def _insert(creator_id: uuid.UUID, records: list[dict]) -> None:
    if not records:
        return
    now = utcnow()
    users, identities, tags, consents = [], [], [], {}
    taken_api_ids = _taken_api_ids(
        creator_id, [r["external_id"] for r in records if r.get("phone_e164") and r.get("external_id")]
    )
    for record in records:
        user_id = uuid.uuid4()
        channel, external_id = key_of(record)
        state = record.get("consent_state", ConsentState.PENDING)
        users.append(
            {
                "id": user_id,
                "creator_id": creator_id,
                "channel": channel,
                "external_id": external_id,
                "phone_e164": record.get("phone_e164"),
                "display_name": record.get("display_name"),
                "email": record.get("email"),
                "timezone": record.get("timezone"),
                "language": record.get("language"),
                "attributes": record["attributes"],
                "profile_data": record["profile_data"],
                "consent_state": state,
                "consent_updated_at": now if state != ConsentState.PENDING else None,
                "engagement_score": 0.0,
                "is_active": True,
                "created_at": now,
                "updated_at": now,
            }
        )
        identities.append(_identity(creator_id, user_id, channel, external_id, now))
        if channel == "sms" and record.get("external_id") and record["external_id"] not in taken_api_ids:
            identities.append(_identity(creator_id, user_id, "api", record["external_id"], now))
            taken_api_ids.add(record["external_id"])
        tags.extend(
            {"id": uuid.uuid4(), "creator_id": creator_id, "end_user_id": user_id, "tag": t}
            for t in record.get("tags", [])
        )
        consents[user_id] = state
    db.session.execute(insert(EndUser), users)
    db.session.execute(insert(EndUserIdentity), identities)
    if tags:
        db.session.execute(insert(Tag), tags)
    record_initial_consent(creator_id, consents, "import")


def _identity(creator_id, user_id, channel: str, external_id: str, now) -> dict:
    return {
        "id": uuid.uuid4(),
        "creator_id": creator_id,
        "end_user_id": user_id,
        "channel": channel,
        "external_id": external_id,
        "created_at": now,
    }


def _taken_api_ids(creator_id: uuid.UUID, external_ids: list[str]) -> set[str]:
    if not external_ids:
        return set()
    return set(
        db.session.scalars(
            select(EndUserIdentity.external_id).where(
                EndUserIdentity.creator_id == creator_id,
                EndUserIdentity.channel == "api",
                EndUserIdentity.external_id.in_(external_ids),
            )
        )
    )


def refresh_statistics(batch_number: int) -> None:
    """Let PostgreSQL's planner see the tables grow during a big import.

    Fresh rows have no statistics until autovacuum gets to them, and the
    planner then scans every identity for each batch's lookups (seconds per
    batch at 30k users) instead of probing the index. ANALYZE samples, so it
    stays cheap; it runs after the first batch and every tenth.
    """
    if batch_number % 10 != 1 or db.session.get_bind().dialect.name != "postgresql":
        return
    for table in (EndUser.__tablename__, EndUserIdentity.__tablename__):
        db.session.execute(text(f"ANALYZE {table}"))
