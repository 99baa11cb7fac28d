"""Segments: filter criteria validated at the edge, compiled into one SQL query.

Criteria are a group {"operator": "AND"|"OR", "conditions": [...]} whose
conditions are groups again or {"attribute", "operator", "value"}; a single
condition alone is accepted too (event-stream-engine "Create Segment").
Attributes name a profile field, `tags`, or a custom attribute
(`attributes.<key>`, or any other bare name). Evaluation is one COUNT and
one LIMIT query on the database, on SQLite and PostgreSQL alike.
"""

import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Float, and_, case, cast, exists, func, literal, not_, or_, select

from app.api.errors import ApiError
from app.extensions import db
from app.models import EndUser, EndUserIdentity, Segment, Tag
from app.models.base import utcnow
from app.tenancy import get_for_creator

MAX_DEPTH = 5
MAX_CONDITIONS = 50
SAMPLE_SIZE = 10
GROUP_OPERATORS = ("AND", "OR")
OPERATORS = (
    "equals",
    "not_equals",
    "contains",
    "in",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "after",
    "before",
    "within_days",
    "has",
    "not_has",
)
TEXT_FIELDS = ("email", "phone_e164", "language", "timezone", "consent_state", "display_name", "external_id")
TIME_FIELDS = ("created_at", "last_active_at")
PROFILE_FIELDS = (*TEXT_FIELDS, *TIME_FIELDS, "channel", "engagement_score", "is_active")
TAG_ATTRIBUTES = ("tags", "tag")
ALLOWED = {
    "text": ("equals", "not_equals", "contains", "in", "exists", "gt", "gte", "lt", "lte"),
    "time": ("exists", "after", "before", "within_days", "gt", "gte", "lt", "lte"),
    "channel": ("equals", "not_equals", "in"),
    "engagement_score": ("equals", "not_equals", "in", "gt", "gte", "lt", "lte"),
    "is_active": ("equals", "not_equals"),
    "tags": ("has", "not_has", "in"),
    "custom": tuple(op for op in OPERATORS if op not in ("has", "not_has")),
}
NUMBER_TEXT = r"^\s*-?[0-9]+(\.[0-9]+)?\s*$"


class CriteriaError(Exception):
    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path, self.message = path, message


def kind_of(attribute: str) -> str:
    if attribute in TAG_ATTRIBUTES:
        return "tags"
    if attribute in TEXT_FIELDS:
        return "text"
    if attribute in TIME_FIELDS:
        return "time"
    if attribute in ("channel", "engagement_score", "is_active"):
        return attribute
    return "custom"


def custom_key(attribute: str) -> str:
    return attribute.removeprefix("attributes.")


# --- Validation --------------------------------------------------------------


def validate(criteria, path: str = "filter_criteria") -> None:
    """Raise a 422 ApiError naming the first bad path."""
    try:
        if not isinstance(criteria, dict) or not criteria:
            raise CriteriaError(
                path, "Give a group {operator, conditions} or a condition {attribute, operator, value}."
            )
        count = _check(criteria, path, 1)
    except CriteriaError as error:
        raise ApiError(
            422, f"{error.path}: {error.message}", details=[{"field": error.path, "message": error.message}]
        ) from None
    if count > MAX_CONDITIONS:
        message = f"At most {MAX_CONDITIONS} conditions ({count} given)."
        raise ApiError(422, f"{path}: {message}", details=[{"field": path, "message": message}])


def _check(node, path: str, depth: int) -> int:
    if not isinstance(node, dict):
        raise CriteriaError(path, "Must be an object.")
    if "conditions" in node:
        if depth > MAX_DEPTH:
            raise CriteriaError(path, f"Groups nest at most {MAX_DEPTH} deep.")
        if node.get("operator", "AND") not in GROUP_OPERATORS:
            raise CriteriaError(f"{path}.operator", "A group's operator is AND or OR.")
        conditions = node["conditions"]
        if not isinstance(conditions, list) or not conditions:
            raise CriteriaError(f"{path}.conditions", "Give a non-empty list of conditions.")
        return sum(_check(child, f"{path}.conditions.{i}", depth + 1) for i, child in enumerate(conditions))
    _check_condition(node, path)
    return 1


def _check_condition(node: dict, path: str) -> None:
    attribute, operator, value = node.get("attribute"), node.get("operator"), node.get("value")
    if not isinstance(attribute, str) or not attribute.strip() or len(attribute) > 100:
        raise CriteriaError(f"{path}.attribute", "Name an attribute (a profile field, tags or attributes.<key>).")
    if attribute.startswith("attributes.") and not custom_key(attribute):
        raise CriteriaError(f"{path}.attribute", "Name the key after 'attributes.'.")
    if operator not in OPERATORS:
        raise CriteriaError(f"{path}.operator", f"Unknown operator {operator!r}; use one of {', '.join(OPERATORS)}.")
    kind = kind_of(attribute)
    if operator not in ALLOWED[kind]:
        allowed = ", ".join(ALLOWED[kind])
        raise CriteriaError(f"{path}.operator", f"{operator!r} does not apply to {attribute!r}; use {allowed}.")
    _check_value(kind, operator, value, f"{path}.value")


def _check_value(kind: str, operator: str, value, path: str) -> None:
    if operator == "exists":
        if value is not None and not isinstance(value, bool):
            raise CriteriaError(path, "exists takes true, false or nothing.")
    elif operator == "in":
        if not isinstance(value, list) or not value or len(value) > 500:
            raise CriteriaError(path, "in takes a non-empty list (at most 500 values).")
        if not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            raise CriteriaError(path, "in takes strings or numbers.")
    elif operator == "within_days":
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 36500:
            raise CriteriaError(path, "within_days takes a number of days (1 to 36500).")
    elif kind == "time" or operator in ("after", "before"):
        if not isinstance(value, str) or parse_time(value) is None:
            raise CriteriaError(path, "Give an ISO 8601 date or date-time (2026-01-31 or 2026-01-31T09:00:00Z).")
    elif kind == "engagement_score" or (operator in ("gt", "gte", "lt", "lte") and kind == "custom"):
        if not isinstance(value, int | float | str) or isinstance(value, bool):
            raise CriteriaError(path, "Give a number.")
    elif kind == "is_active":
        if not isinstance(value, bool):
            raise CriteriaError(path, "is_active takes true or false.")
    elif not isinstance(value, str | int | float | bool) or value == "":
        raise CriteriaError(path, "Give a value (a string, number or boolean).")
    if kind == "engagement_score" and operator != "in" and _number(value) is None:
        raise CriteriaError(path, "Give a number.")


def parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --- Compilation -------------------------------------------------------------


def compile_criteria(criteria: dict, dialect: str):
    """The criteria as one SQL boolean expression over end_users (validate first)."""
    if "conditions" in criteria:
        parts = [compile_criteria(child, dialect) for child in criteria["conditions"]]
        return or_(*parts) if criteria.get("operator", "AND") == "OR" else and_(*parts)
    return _condition(criteria["attribute"], criteria["operator"], criteria.get("value"), dialect)


def _condition(attribute: str, operator: str, value, dialect: str):
    kind = kind_of(attribute)
    if kind == "tags":
        values = value if operator == "in" else [value]
        has = exists().where(Tag.end_user_id == EndUser.id, Tag.tag.in_([str(v) for v in values]))
        return not_(has) if operator == "not_has" else has
    if kind == "channel":
        values = value if operator == "in" else [value]
        on = exists().where(EndUserIdentity.end_user_id == EndUser.id, EndUserIdentity.channel.in_(values))
        return not_(on) if operator == "not_equals" else on
    if kind == "is_active":
        return EndUser.is_active.is_(bool(value) == (operator == "equals"))
    if kind == "engagement_score":
        return _compare(EndUser.engagement_score, operator, value, numeric=True)
    if kind == "time":
        return _time(getattr(EndUser, attribute), operator, value)
    if kind == "text":
        return _compare(getattr(EndUser, attribute), operator, value)
    return _custom(custom_key(attribute), operator, value, dialect)


def _compare(column, operator: str, value, numeric: bool = False):
    if operator == "exists":
        return column.is_not(None) if value is not False else column.is_(None)
    if operator == "in":
        return column.in_([_number(v) if numeric else str(v) for v in value])
    if operator == "contains":
        return column.ilike(f"%{_escape(str(value))}%", escape="\\")
    value = _number(value) if numeric else str(value)
    if operator == "not_equals":
        return or_(column != value, column.is_(None))
    return {"equals": column == value, "gt": column > value, "gte": column >= value, "lt": column < value}.get(
        operator, column <= value
    )


def _time(column, operator: str, value):
    if operator == "exists":
        return column.is_not(None) if value is not False else column.is_(None)
    if operator == "within_days":
        return column >= utcnow() - timedelta(days=value)
    moment = parse_time(value)
    return {
        "after": column > moment,
        "gt": column > moment,
        "gte": column >= moment,
        "before": column < moment,
        "lt": column < moment,
    }.get(operator, column <= moment)


def _custom(key: str, operator: str, value, dialect: str):
    """A custom attribute: its JSON value read as text; compared as a number when the value is one."""
    text = EndUser.attributes[key].as_string()
    if operator == "exists":
        return text.is_not(None) if value is not False else text.is_(None)
    if operator == "within_days":
        return text >= (utcnow() - timedelta(days=value)).date().isoformat()
    if operator in ("after", "before"):
        return text > value if operator == "after" else text < value
    if operator == "in":
        strings = [str(v) for v in value if isinstance(v, str)]
        numbers = [float(v) for v in value if not isinstance(v, str)]
        parts = ([text.in_(strings)] if strings else []) + ([_as_number(text, dialect).in_(numbers)] if numbers else [])
        return or_(*parts)
    if operator == "contains":
        return text.ilike(f"%{_escape(str(value))}%", escape="\\")
    if isinstance(value, bool):
        value = "true" if value else "false"
        text = _bool_text(key, dialect)
    number = _number(value) if operator in ("gt", "gte", "lt", "lte") or not isinstance(value, str) else None
    column = _as_number(text, dialect) if number is not None else text
    operand = number if number is not None else str(value)
    if operator == "not_equals":
        return or_(column != operand, column.is_(None))
    return _compare(column, operator, operand, numeric=number is not None)


def _as_number(text, dialect: str):
    """The text as a number where it is one, else NULL (never an error on PostgreSQL)."""
    if dialect == "postgresql":
        return case((text.op("~")(NUMBER_TEXT), cast(text, Float)), else_=None)
    looks_numeric = and_(
        func.trim(text) != "", func.trim(text).op("NOT GLOB")(literal("*[^0-9.-]*")), text.op("GLOB")("*[0-9]*")
    )
    return case((looks_numeric, cast(text, Float)), else_=None)


def _bool_text(key: str, dialect: str):
    """JSON true/false as the text 'true'/'false' (SQLite's json_extract gives 1/0)."""
    if dialect == "postgresql":
        return EndUser.attributes[key].as_string()
    json_type = func.json_type(EndUser.attributes, f'$."{key}"')
    return case(
        (json_type == "true", "true"), (json_type == "false", "false"), else_=EndUser.attributes[key].as_string()
    )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- Segments ----------------------------------------------------------------


def dialect_name() -> str:
    return db.session.get_bind().dialect.name


def segment_query(creator_id: uuid.UUID, criteria: dict):
    return select(EndUser).where(EndUser.creator_id == creator_id, compile_criteria(criteria, dialect_name()))


def get_segment(creator_id: uuid.UUID, segment_id: uuid.UUID) -> Segment:
    return get_for_creator(Segment, creator_id, segment_id, "Segment")


def list_segments(creator_id: uuid.UUID):
    return select(Segment).where(Segment.creator_id == creator_id).order_by(Segment.created_at.desc(), Segment.id)


def save_segment(creator_id: uuid.UUID, data: dict, segment: Segment | None = None) -> Segment:
    if "filter_criteria" in data:
        validate(data["filter_criteria"])
    if segment is None:
        segment = Segment(creator_id=creator_id)
        db.session.add(segment)
    for field in ("name", "description", "filter_criteria"):
        if field in data:
            setattr(segment, field, data[field])
    if "filter_criteria" in data:
        segment.estimated_audience_size = segment.evaluated_at = None
    db.session.commit()
    return segment


def delete_segment(segment: Segment) -> None:
    db.session.delete(segment)
    db.session.commit()


def evaluate(segment: Segment) -> dict:
    """Count the matching users and take a sample: two queries, timed; the count is kept on the segment."""
    started = time.perf_counter()
    result = evaluate_criteria(segment.creator_id, segment.filter_criteria)
    segment.estimated_audience_size, segment.evaluated_at = result["matching_users"], utcnow()
    db.session.commit()
    return {"segment_id": segment.id, **result, "evaluation_time_ms": round((time.perf_counter() - started) * 1000, 1)}


def evaluate_criteria(creator_id: uuid.UUID, criteria: dict) -> dict:
    validate(criteria)
    query = segment_query(creator_id, criteria)
    count = db.session.scalar(select(func.count()).select_from(query.with_only_columns(EndUser.id).subquery()))
    sample = db.session.scalars(query.order_by(EndUser.created_at.desc(), EndUser.id).limit(SAMPLE_SIZE)).all()
    return {
        "matching_users": count,
        "sample_users": [{"id": u.id, "phone_e164": u.phone_e164, "label": u.label} for u in sample],
    }
