"""What the demo creator starts with, so `make run` shows a working product at once:
a small course in a knowledge base, a chat widget, one FAQ entry, and a published
first-week program that website visitors can start from the widget."""

from flask import current_app

from app.faq import services as faq
from app.jobs import run_pending_jobs
from app.knowledge import services as knowledge
from app.models import Member
from app.programs import services as programs
from app.widget import services as channels

COURSE = """# Couch to 10k: the course handbook

## Rest and recovery

Take two full rest days every week. Recovery is when your muscles adapt; skipping it
raises the risk of overuse injuries such as shin splints. Sleep at least seven hours.

## Your first weeks

Run three times a week, every other day. Start each run with five minutes of brisk
walking. Alternate one minute of easy running with ninety seconds of walking, eight times.

## Nutrition

Eat a carbohydrate-rich meal two to three hours before a long run. Drink water through
the day rather than a lot at once before running.

## Gear

Replace running shoes every 500 to 800 kilometres, when the midsole cushioning is worn.
"""


def seed_content(member: Member) -> None:
    """Give a new demo workspace its course, widget and FAQ, indexed now (the queue is in-process)."""
    kb = knowledge.create_knowledge_base(member.creator_id, "Couch to 10k", "The course handbook")
    knowledge.add_text(kb, "Course handbook", COURSE)
    channels.create_web_channel(
        member.creator_id,
        "Website chat",
        {"title": "Ask Coach Demo", "welcome_message": "Hi! Ask me anything about the Couch to 10k course."},
    )
    faq.save_entry(
        member.creator_id,
        {
            "question": "How do I get a refund?",
            "answer": "Write to us within 14 days of purchase and we refund you in full.",
            "question_variants": ["Can I get my money back?", "What is your refund policy?"],
        },
    )
    seed_program(member)
    run_pending_jobs(current_app._get_current_object())


def _node(node_id: str, kind: str, y: int, **data) -> dict:
    return {"id": node_id, "type": kind, "position": {"x": 0, "y": y}, "data": data}


def seed_program(member: Member) -> None:
    """A first-week check-in: a welcome, a question, a branch on the answer, a badge or an AI tip."""
    badge = programs.create_badge(member.creator_id, "First week done", "Ran three times in week one", "🏃")
    nodes = [
        _node("start", "start", 0),
        _node("welcome", "send_message", 100, message="Welcome to week one, {first_name|runner}! Three short runs."),
        _node(
            "runs",
            "ask_question",
            200,
            question="How many runs did you manage this week?",
            choices=["None yet", "One or two", "Three"],
            save_to="profile",
            save_as="runs_week_1",
        ),
        _node("check", "condition", 300, field="answer.runs", operator="equals", value="Three"),
        _node("badge", "award_badge", 400, badge_id=str(badge.id), message="{badge}: you did it! 🎉"),
        _node("tip", "ai_coach", 400, goal="How to fit three runs into a busy week"),
        _node("end", "end", 500, message="See you next week, {first_name|runner}."),
    ]
    edges = [
        {"id": "e1", "source": "start", "target": "welcome"},
        {"id": "e2", "source": "welcome", "target": "runs"},
        {"id": "e3", "source": "runs", "target": "check"},
        {"id": "e4", "source": "check", "target": "badge", "branch": "yes"},
        {"id": "e5", "source": "check", "target": "tip", "branch": "no"},
        {"id": "e6", "source": "badge", "target": "end"},
        {"id": "e7", "source": "tip", "target": "end"},
    ]
    program, _ = programs.create_program(
        member.creator_id,
        {
            "name": "Week one check-in",
            "description": "Welcome, a check-in on the week's runs, and a badge or a tip.",
            "flow_definition": {"nodes": nodes, "edges": edges},
            "settings": {"widget_enroll": True, "enroll_keyword": "WEEK1"},
        },
    )
    programs.publish(program, member.id)
