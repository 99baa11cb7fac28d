"""All models, imported here so Alembic and the app see every table."""

from app.models.accounts import (  # noqa: F401
    AIPersona,
    ApiKey,
    AuthSession,
    Creator,
    Member,
    RefreshToken,
    Role,
)
from app.models.audience import ConsentEvent, ConsentState, EndUserIdentity, Segment, Tag, UserImport  # noqa: F401,E402
from app.models.channels import Channel  # noqa: F401,E402
from app.models.conversations import Conversation, ConversationStatus, EndUser, Memory, Message  # noqa: F401,E402
from app.models.faq import CachedResponse, FaqEntry, FaqStatus  # noqa: F401,E402
from app.models.knowledge import Chunk, Document, DocumentFile, DocumentStatus, KnowledgeBase  # noqa: F401,E402
from app.models.messaging import ChannelAddress, InboundEvent, OutboundMessage, OutboxStatus  # noqa: F401,E402
from app.models.programs import (  # noqa: F401,E402
    Badge,
    Enrollment,
    EnrollmentStatus,
    EnrollmentStep,
    Program,
    ProgramStatus,
    ProgramVersion,
    UserBadge,
)
