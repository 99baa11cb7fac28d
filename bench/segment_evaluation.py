"""Segment evaluation time on 100k and 1M users, against a plain COUNT(*) of the creator's users.

    python -m bench.segment_evaluation            # SQLite file in a temp dir
    DATABASE_URL=postgresql://... python -m bench.segment_evaluation

Users are inserted with set-based SQL (INSERT ... SELECT over a generated
series), then a realistic nested criteria is evaluated through the same code
as POST /api/v1/segments/<id>/evaluate (count + sample), best of 3 runs.
"""

import os
import sys
import tempfile
import time
import uuid

os.environ.setdefault("APP_ENV", "development")
if not os.environ.get("DATABASE_URL"):
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-segments-")

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.audience.segments import evaluate_criteria  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import EndUser  # noqa: E402

SIZES = [int(n) for n in sys.argv[1:]] or [100_000, 1_000_000]
CRITERIA = {
    "operator": "AND",
    "conditions": [
        {"attribute": "consent_state", "operator": "equals", "value": "OPT_IN"},
        {
            "operator": "OR",
            "conditions": [
                {
                    "operator": "AND",
                    "conditions": [
                        {"attribute": "city", "operator": "in", "value": ["Austin", "Reno"]},
                        {"attribute": "age", "operator": "gte", "value": 30},
                    ],
                },
                {"attribute": "tags", "operator": "has", "value": "vip"},
                {"attribute": "last_active_at", "operator": "within_days", "value": 7},
            ],
        },
    ],
}
TIER = "CASE WHEN n % 5 = 0 THEN 'premium' ELSE 'basic' END"
CITIES = ("Austin", "Reno", "Dallas", "Paris", "Lagos", "Lima", "Oslo", "Pune")


def populate(creator_id: uuid.UUID, count: int, dialect: str) -> None:
    """`count` users (a tenth tagged vip) in three INSERT ... SELECT statements."""
    if dialect == "postgresql":
        series = f"SELECT g AS n FROM generate_series(1, {count}) g"
        new_id, now, ago = "gen_random_uuid()", "now()", "now() - (n % 60) * interval '1 day'"
        attrs = "jsonb_build_object('city', (ARRAY{cities})[1 + n % 8], 'age', 18 + n % 60, 'tier', " + TIER + ")"
        attrs = attrs.format(cities="['" + "','".join(CITIES) + "']")
        creator = f"'{creator_id}'::uuid"
    else:
        series = f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) SELECT n FROM s"
        new_id = "lower(hex(randomblob(16)))"
        now, ago = (
            "strftime('%Y-%m-%d %H:%M:%f', 'now')",
            "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (n % 60) || ' days')",
        )
        city = "CASE n % 8 " + " ".join(f"WHEN {i} THEN '{c}'" for i, c in enumerate(CITIES)) + " END"
        attrs = f"json_object('city', {city}, 'age', 18 + n % 60, 'tier', {TIER})"
        creator = f"'{creator_id.hex}'"
    last_digit = "right(phone_e164, 1)" if dialect == "postgresql" else "substr(phone_e164, -1)"
    states = "CASE n % 4 WHEN 0 THEN 'PENDING' WHEN 3 THEN 'STOP' ELSE 'OPT_IN' END"
    db.session.execute(
        text(
            "INSERT INTO end_users (id, creator_id, external_id, channel, phone_e164, profile_data, attributes, "
            "consent_state, engagement_score, is_active, last_active_at, created_at, updated_at) "
            f"SELECT {new_id}, {creator}, '+1' || (2000000000 + n), 'sms', '+1' || (2000000000 + n), '{{}}', {attrs}, "
            f"{states}, 0.0, TRUE, {ago}, {now}, {now} FROM ({series}) AS numbers"
        )
    )
    db.session.execute(
        text(
            "INSERT INTO end_user_identities (id, creator_id, end_user_id, channel, external_id, created_at) "
            f"SELECT {new_id}, creator_id, id, 'sms', external_id, created_at FROM end_users "
            f"WHERE creator_id = {creator}"
        )
    )
    db.session.execute(
        text(
            "INSERT INTO end_user_tags (id, creator_id, end_user_id, tag) "
            f"SELECT {new_id}, creator_id, id, 'vip' FROM end_users WHERE creator_id = {creator} "
            f"AND {last_digit} = '7'"
        )
    )
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def best_of(runs: int, work) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), result


def main() -> None:
    app = create_app({"SERVER_NAME": None})
    rows = []
    with app.app_context():
        dialect = db.engine.dialect.name
        upgrade()
        from app.auth.services import register_creator

        for size in SIZES:
            member = register_creator(
                f"bench-{uuid.uuid4().hex[:8]}@example.com", "bench-password-42", "Bench", "Bench"
            )
            creator_id = member.creator_id
            started = time.perf_counter()
            populate(creator_id, size, dialect)
            insert_s = time.perf_counter() - started
            baseline_ms, total = best_of(
                3, lambda c=creator_id: db.session.scalar(select(func.count()).where(EndUser.creator_id == c))
            )
            segment_ms, result = best_of(3, lambda c=creator_id: evaluate_criteria(c, CRITERIA))
            rows.append((size, dialect, insert_s, baseline_ms, segment_ms, result["matching_users"], total))
    print(
        f"\n{'users':>10} {'db':>10} {'insert s':>9}"
        f" {'COUNT(*) ms':>12} {'segment ms':>11} {'ratio':>6} {'matching':>9}"
    )
    for size, dialect, insert_s, baseline_ms, segment_ms, matching, total in rows:
        assert total == size
        ratio = segment_ms / baseline_ms
        print(
            f"{size:>10} {dialect:>10} {insert_s:>9.1f}"
            f" {baseline_ms:>12.1f} {segment_ms:>11.1f} {ratio:>6.1f} {matching:>9}"
        )


if __name__ == "__main__":
    main()
