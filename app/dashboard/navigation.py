"""The dashboard's navigation: every domain of the product, and who sees it.

Domains still being built link to a page that says plainly what is coming;
they never show invented data.
"""

from dataclasses import dataclass

from app.models import Role

EVERYONE = (Role.OWNER, Role.ADMIN, Role.AGENT)
ADMINS = (Role.OWNER, Role.ADMIN)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    endpoint: str
    icon: str
    roles: tuple[Role, ...]
    group: str
    summary: str
    coming: tuple[str, ...] = ()  # what the page will do, while it is not built yet


SECTIONS = (
    Section("home", "Overview", "dashboard.home", "◎", EVERYONE, "Workspace", "Your workspace at a glance."),
    Section(
        "inbox",
        "Inbox",
        "inbox.index",
        "✉",
        EVERYONE,
        "Engage",
        "Live conversations from the widget, SMS and WhatsApp, with human takeover.",
    ),
    Section(
        "outbox",
        "Outbox",
        "messaging.outbox",
        "⇪",
        EVERYONE,
        "Engage",
        "Every SMS and WhatsApp message sent, what became of it, and inbound activity.",
    ),
    Section(
        "audience",
        "Audience",
        "audience.index",
        "☺",
        EVERYONE,
        "Engage",
        "Your end users, their consent, segments and imports.",
    ),
    Section(
        "knowledge",
        "Knowledge",
        "knowledge.index",
        "❏",
        ADMINS,
        "Build",
        "Knowledge bases the assistant answers from, and a test-retrieval page.",
    ),
    Section(
        "faq",
        "FAQ & cache",
        "faq.index",
        "?",
        ADMINS,
        "Build",
        "Answers given instantly, suggestions from frequent questions, and the response cache.",
    ),
    Section(
        "programs",
        "Programs",
        "programs.index",
        "➜",
        ADMINS,
        "Build",
        "Coaching programs designed as flows: build, publish, enroll, and watch progress and drop-off.",
    ),
    Section(
        "channels",
        "Channels",
        "channels.index",
        "☎",
        ADMINS,
        "Build",
        "The chat widget for your website, and SMS and WhatsApp numbers through Twilio.",
    ),
    Section(
        "campaigns",
        "Campaigns",
        "dashboard.campaigns",
        "✦",
        ADMINS,
        "Grow",
        "Templated broadcasts to segments.",
        (
            "Templates with {variables}, character and SMS segment counts.",
            "Send now or schedule, with quiet hours in each recipient's time zone.",
            "Per-campaign delivery, failure analysis and timeline.",
        ),
    ),
    Section(
        "proactive",
        "Proactive rules",
        "dashboard.proactive",
        "⟳",
        ADMINS,
        "Grow",
        "Check-ins triggered by inactivity, schedules and program events.",
        (
            "Triggers: inactivity, schedules, program events, keywords.",
            "Actions: templated message, enroll, tag, escalate; frequency caps.",
            "Success measured as a reply within a window.",
        ),
    ),
    Section(
        "analytics",
        "Analytics",
        "dashboard.analytics",
        "▤",
        ADMINS,
        "Grow",
        "Engagement, AI usage and delivery reports.",
        (
            "Overview for 7 days to a year, series by channel and program.",
            "AI usage: latency, cache hits, escalations, unanswered questions by topic.",
            "CSV and JSON exports built in the background.",
        ),
    ),
    Section(
        "integrations",
        "Integrations",
        "dashboard.integrations",
        "⇄",
        ADMINS,
        "Grow",
        "Signed outbound webhooks to your own systems.",
        (
            "Endpoints with a secret; payloads signed X-Webhook-Signature: sha256=…",
            "Retries with backoff, delivery log, manual redelivery and test pings.",
        ),
    ),
    Section(
        "assistant",
        "Assistant persona",
        "accounts.persona",
        "✎",
        ADMINS,
        "Settings",
        "How the assistant speaks for you.",
    ),
    Section("team", "Team", "accounts.team", "♟", ADMINS, "Settings", "Owners, admins and agents."),
    Section(
        "api_keys",
        "API keys",
        "accounts.api_keys",
        "⚷",
        ADMINS,
        "Settings",
        "Keys for server-to-server access to the API.",
    ),
    Section("profile", "Profile", "accounts.profile", "⚙", ADMINS, "Settings", "Your business profile."),
)

SECTIONS_BY_KEY = {section.key: section for section in SECTIONS}


def sections_for(role: Role) -> list[Section]:
    return [section for section in SECTIONS if role in section.roles]
