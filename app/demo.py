"""What the demo creator starts with, so `make run` shows a working product at once:
a small course in a knowledge base, a chat widget, and one FAQ entry."""

from flask import current_app

from app.faq import services as faq
from app.jobs import run_pending_jobs
from app.knowledge import services as knowledge
from app.models import Member
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
    run_pending_jobs(current_app._get_current_object())
