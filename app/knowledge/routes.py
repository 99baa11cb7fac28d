"""Knowledge pages: bases, uploads with live status, document chunks, test retrieval."""

import uuid

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from app.api.errors import ApiError
from app.auth.web import roles_required
from app.extensions import db
from app.filters import filesize
from app.htmx import is_htmx
from app.knowledge import bp, services
from app.knowledge import search as retrieval
from app.knowledge.embeddings import available_models
from app.knowledge.forms import KnowledgeBaseForm, RetrievalForm, SettingsForm, TextForm, UrlForm
from app.models import Chunk, DocumentStatus, Role

EDITORS = (Role.OWNER, Role.ADMIN)
IN_PROGRESS = (DocumentStatus.PENDING, DocumentStatus.PROCESSING)


@bp.before_request
@login_required
@roles_required(*EDITORS)
def require_editor():
    pass


def _kb(kb_id: uuid.UUID):
    return services.get_knowledge_base(current_user.creator_id, kb_id)


def _upload_limit() -> str:
    """MAX_CONTENT_LENGTH caps a whole request, so all the files of one upload together."""
    return filesize(current_app.config["MAX_CONTENT_LENGTH"])


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error):
    """Refused from its Content-Length, before anything is read or stored. HTMX swaps nothing
    on a 413: app.js shows the fragment's message next to the drop zone."""
    message = f"This upload is over {_upload_limit()}, the most one upload can carry (all files together). "
    message += "Upload fewer or smaller files at a time."
    if is_htmx():
        return render_template("knowledge/_upload_error.html", message=message), 413
    return render_template("errors/error.html", status=413, message=message), 413


@bp.route("/", methods=["GET", "POST"])
def index():
    form = KnowledgeBaseForm()
    if form.validate_on_submit():
        try:
            kb = services.create_knowledge_base(current_user.creator_id, form.name.data, form.description.data or "")
        except ApiError as error:
            form.name.errors.append(error.description)
        else:
            flash(f"Knowledge base “{kb.name}” created. Add documents to it.", "success")
            return redirect(url_for("knowledge.detail", kb_id=kb.id))
    bases = db.session.scalars(services.knowledge_bases_query(current_user.creator_id)).all()
    return render_template("knowledge/index.html", form=form, bases=bases)


def _settings_form(kb):
    form = SettingsForm(obj=kb, prefix="settings")
    form.embedding_model.choices = sorted(set(available_models()) | {kb.embedding_model})
    return form


@bp.route("/<uuid:kb_id>")
def detail(kb_id):
    kb = _kb(kb_id)
    return render_template(
        "knowledge/detail.html",
        kb=kb,
        upload_limit=_upload_limit(),
        documents=_documents(kb),
        settings_form=_settings_form(kb),
        text_form=TextForm(prefix="text"),
        url_form=UrlForm(prefix="url"),
    )


def _documents(kb):
    return db.session.scalars(services.documents_query(kb)).all()


@bp.route("/<uuid:kb_id>/documents")
def documents(kb_id):
    """The documents table alone: polled by HTMX while anything is being processed."""
    kb = _kb(kb_id)
    return render_template("knowledge/_documents.html", kb=kb, documents=_documents(kb))


@bp.route("/<uuid:kb_id>/upload", methods=["POST"])
def upload(kb_id):
    """Several files at once; each is accepted or refused on its own."""
    kb = _kb(kb_id)
    messages = []
    for upload in request.files.getlist("files"):
        try:
            services.add_upload(kb, upload.filename, upload.read())
            messages.append(("success", f"{upload.filename}: uploaded, processing…"))
        except ApiError as error:
            messages.append(("error", f"{upload.filename}: {error.description}"))
    if not messages:
        messages.append(("error", "Choose at least one file."))
    return render_template("knowledge/_documents.html", kb=kb, documents=_documents(kb), messages=messages)


@bp.route("/<uuid:kb_id>/text", methods=["POST"])
def add_text(kb_id):
    kb = _kb(kb_id)
    form = TextForm(prefix="text")
    if form.validate_on_submit():
        try:
            services.add_text(kb, form.title.data, form.content.data)
            flash(f"“{form.title.data}” added; it is being processed.", "success")
        except ApiError as error:
            flash(error.description, "error")
    else:
        flash("Give the text a title and some content.", "error")
    return redirect(url_for("knowledge.detail", kb_id=kb.id))


@bp.route("/<uuid:kb_id>/url", methods=["POST"])
def add_url(kb_id):
    kb = _kb(kb_id)
    form = UrlForm(prefix="url")
    if form.validate_on_submit():
        try:
            services.add_url(kb, form.url.data, form.title.data or None)
            flash("The page is queued for import.", "success")
        except ApiError as error:
            flash(error.description, "error")
    else:
        flash("Enter a valid http:// or https:// URL.", "error")
    return redirect(url_for("knowledge.detail", kb_id=kb.id))


@bp.route("/<uuid:kb_id>/settings", methods=["POST"])
def settings(kb_id):
    kb = _kb(kb_id)
    form = _settings_form(kb)
    if form.validate_on_submit():
        try:
            version = kb.settings_version
            services.update_knowledge_base(
                kb,
                {
                    "settings": {
                        "chunk_size": form.chunk_size.data,
                        "chunk_overlap": form.chunk_overlap.data,
                        "embedding_model": form.embedding_model.data,
                    }
                },
            )
            changed = kb.settings_version != version
            flash("Settings saved; every document is being re-indexed." if changed else "Nothing changed.", "success")
        except ApiError as error:
            flash(error.description, "error")
    else:
        flash("; ".join(f"{form[name].label.text}: {errors[0]}" for name, errors in form.errors.items()), "error")
    return redirect(url_for("knowledge.detail", kb_id=kb.id))


@bp.route("/<uuid:kb_id>/delete", methods=["POST"])
def delete(kb_id):
    kb = _kb(kb_id)
    services.delete_knowledge_base(kb)
    flash(f"Knowledge base “{kb.name}” deleted.", "success")
    return redirect(url_for("knowledge.index"))


@bp.route("/<uuid:kb_id>/documents/<uuid:document_id>")
def document(kb_id, document_id):
    kb = _kb(kb_id)
    doc = services.get_document(kb, document_id)
    chunks = db.session.scalars(select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.chunk_index)).all()
    return render_template(
        "knowledge/document.html", kb=kb, document=doc, chunks=chunks, stalled=services.is_stalled(doc)
    )


@bp.route("/<uuid:kb_id>/documents/<uuid:document_id>/reprocess", methods=["POST"])
def reprocess(kb_id, document_id):
    kb = _kb(kb_id)
    try:
        services.reprocess_document(services.get_document(kb, document_id))
        flash("Queued for processing again.", "success")
    except ApiError as error:
        flash(error.description, "error")
    return redirect(request.referrer or url_for("knowledge.detail", kb_id=kb.id))


@bp.route("/<uuid:kb_id>/documents/<uuid:document_id>/delete", methods=["POST"])
def delete_document(kb_id, document_id):
    kb = _kb(kb_id)
    services.delete_document(services.get_document(kb, document_id))
    if is_htmx():
        return render_template("knowledge/_documents.html", kb=kb, documents=_documents(kb))
    flash("Document deleted.", "success")
    return redirect(url_for("knowledge.detail", kb_id=kb.id))


def _uuid_or_404(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        abort(404)


@bp.route("/test-retrieval")
def retrieval_page():
    """Type a question, see the ranked passages and their scores."""
    form = RetrievalForm(request.args)
    bases = db.session.scalars(services.knowledge_bases_query(current_user.creator_id)).all()
    form.kb.choices = [("", "All knowledge bases")] + [(str(kb.id), kb.name) for kb in bases]
    kb_ids = [_kb(_uuid_or_404(form.kb.data)).id] if form.kb.data else None  # another creator's: 404
    hits = None
    if form.q.data and form.validate():
        hits = retrieval.search(current_user.creator_id, form.q.data, kb_ids, limit=10)
    template = "knowledge/_retrieval_results.html" if is_htmx() else "knowledge/retrieval.html"
    return render_template(template, form=form, hits=hits, bases=bases)
