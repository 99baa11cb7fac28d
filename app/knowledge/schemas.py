"""Request and response shapes of the Knowledge Management API."""

from marshmallow import ValidationError, fields, validate, validates_schema

from app.api.schemas import BIGINT, BaseSchema, PaginationQuerySchema, UTCDateTimeField, list_schema
from app.models import DocumentStatus


class SettingsSchema(BaseSchema):
    chunk_size = fields.Integer(validate=validate.Range(min=100, max=8000))
    chunk_overlap = fields.Integer(validate=validate.Range(min=0, max=3999))
    embedding_model = fields.String(validate=validate.Length(min=1, max=100))

    @validates_schema
    def overlap_below_half(self, data, **kwargs):
        if "chunk_size" in data and "chunk_overlap" in data and data["chunk_overlap"] * 2 >= data["chunk_size"]:
            raise ValidationError("Must be less than half of chunk_size.", "chunk_overlap")


class KnowledgeBaseCreateSchema(BaseSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    settings = fields.Nested(SettingsSchema, load_default=dict)


class KnowledgeBaseUpdateSchema(BaseSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    description = fields.String(validate=validate.Length(max=2000))
    settings = fields.Nested(SettingsSchema)


class KnowledgeBaseSchema(BaseSchema):
    id = fields.UUID()
    name = fields.String()
    description = fields.String()
    settings = fields.Dict()
    settings_version = fields.Integer()
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    document_count = fields.Integer()
    total_size_bytes = fields.Integer(validate=BIGINT)


class DocumentQuerySchema(PaginationQuerySchema):
    status = fields.String(load_default=None, validate=validate.OneOf([s.value for s in DocumentStatus]))


class DocumentSchema(BaseSchema):
    id = fields.UUID()
    knowledge_base_id = fields.UUID()
    title = fields.String()
    filename = fields.String(allow_none=True)
    file_type = fields.String(allow_none=True)
    file_size_bytes = fields.Integer(validate=BIGINT)
    source = fields.String()
    source_url = fields.String(allow_none=True)
    processing_status = fields.String()
    error_message = fields.String(allow_none=True)
    metadata = fields.Dict(attribute="meta")
    chunk_count = fields.Integer()
    embedding_model = fields.String(allow_none=True)
    checksum = fields.String(allow_none=True)
    created_at = UTCDateTimeField()
    processed_at = UTCDateTimeField(allow_none=True)


class ChunkSchema(BaseSchema):
    id = fields.UUID()
    chunk_index = fields.Integer()
    content = fields.String()
    metadata = fields.Function(lambda c: {"section": c.section, "page": c.page, "char_count": c.char_count})


class DocumentDetailSchema(DocumentSchema):
    content = fields.String(allow_none=True)
    chunks = fields.List(fields.Nested(ChunkSchema))


class DocumentUploadSchema(BaseSchema):
    title = fields.String(validate=validate.Length(max=300))
    metadata = fields.String(metadata={"description": "A JSON object, as a string in the multipart form"})


class DocumentTextSchema(BaseSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    content = fields.String(required=True, validate=validate.Length(min=1, max=5_000_000))
    metadata = fields.Dict(load_default=dict)


class DocumentUrlSchema(BaseSchema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    title = fields.String(validate=validate.Length(max=300))
    metadata = fields.Dict(load_default=dict)


class DocumentUpdateSchema(BaseSchema):
    title = fields.String(validate=validate.Length(min=1, max=300))
    metadata = fields.Dict()


class SearchRequestSchema(BaseSchema):
    query = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))
    knowledge_base_ids = fields.List(fields.UUID(), metadata={"description": "Only for the cross-KB search"})


class SearchResultSchema(BaseSchema):
    chunk_id = fields.UUID(attribute="chunk.id")
    document_id = fields.UUID(attribute="document.id")
    document_title = fields.String(attribute="document.title")
    knowledge_base_id = fields.UUID(attribute="chunk.knowledge_base_id")
    chunk_index = fields.Integer(attribute="chunk.chunk_index")
    page = fields.Integer(attribute="chunk.page", allow_none=True)
    section = fields.String(attribute="chunk.section")
    content = fields.String(attribute="chunk.content")
    score = fields.Float()
    dense_score = fields.Float(allow_none=True)
    keyword_score = fields.Float(allow_none=True)
    highlight = fields.String(metadata={"description": "HTML-escaped snippet; matches wrapped in <mark>"})


class SearchResponseSchema(BaseSchema):
    query = fields.String()
    results = fields.List(fields.Nested(SearchResultSchema))
    took_ms = fields.Float()


KnowledgeBaseListSchema = list_schema("knowledge_bases", KnowledgeBaseSchema)
DocumentListSchema = list_schema("documents", DocumentSchema)
