"""Documents on an account or invoice: PDFs and images, checked by their content (not their
name), at most 10 MB, kept in the database or in the folder RECOUP_DOCUMENTS_DIR names."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import filetype
from sqlalchemy.orm import Session

from core.config import get_settings
from core.errors import NotFound, ValidationError
from core.models import Document, Invoice
from core.roles import Actor, Permission
from core.services import audit
from core.services.activities import NewActivity, add_to_timeline
from core.services.customers import get_customer_row, require_work

MAX_BYTES = 10 * 1024 * 1024
ACCEPTED = {
    "application/pdf": "PDF",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/gif": "GIF image",
    "image/webp": "WebP image",
    "image/tiff": "TIFF image",
    "image/heic": "HEIC photo",
}


@dataclass(frozen=True)
class DocumentFile:
    file_name: str
    media_type: str
    content: bytes


def media_type_of(content: bytes) -> str:
    """The kind of file the bytes are (not what the name claims); refuses anything but PDFs and images."""
    kind = filetype.guess(content[:8192])
    if kind is None or kind.mime not in ACCEPTED:
        found = f"a {kind.mime} file" if kind else "not a file type Recoup recognises"
        raise ValidationError(
            f"Only PDFs and images (PNG, JPEG, GIF, WebP, TIFF, HEIC) can be attached; this is {found}."
        )
    return str(kind.mime)


def attach_document(
    session: Session,
    actor: Actor,
    customer_id: int,
    *,
    file_name: str,
    content: bytes,
    invoice_id: int | None = None,
    description: str = "",
) -> int:
    customer = get_customer_row(session, customer_id)
    require_work(session, actor, customer, "document.attach")
    name = Path(file_name.replace("\\", "/")).name.strip()[:255] or "document"
    if not content:
        raise ValidationError(f"{name} is empty.")
    if len(content) > MAX_BYTES:
        raise ValidationError(f"{name} is {len(content) / 1024 / 1024:.1f} MB; documents can be at most 10 MB.")
    media_type = media_type_of(content)
    invoice = None
    if invoice_id is not None:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None or invoice.customer_id != customer_id:
            raise ValidationError("That invoice does not belong to this customer.")
    folder = get_settings().documents_dir
    stored_at = None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        stored = folder / f"{customer_id}-{uuid.uuid4().hex}"
        stored.write_bytes(content)
        stored_at = str(stored)
    document = Document(
        customer_id=customer_id,
        invoice_id=invoice_id,
        file_name=name,
        media_type=media_type,
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=None if stored_at else content,
        stored_at=stored_at,
        description=description.strip()[:300],
        actor=actor.username,
    )
    session.add(document)
    session.flush()
    where = f" to invoice {invoice.number}" if invoice else ""
    add_to_timeline(
        session,
        actor,
        customer_id,
        NewActivity(
            kind="document",
            invoice_id=invoice_id,
            summary=f"Attached {name} ({ACCEPTED[media_type]}){where}"
            + (f": {document.description}" if document.description else ""),
            details={"document_id": document.id},
        ),
    )
    audit.record(
        session,
        actor,
        "document.attach",
        "document",
        document.id,
        after=audit.snapshot(document, exclude=("content", "created_at")),
    )
    return document.id


def read_document(session: Session, actor: Actor, document_id: int) -> DocumentFile:
    audit.require(actor, Permission.VIEW_ACCOUNTS, "document.view", "document", document_id)
    document = session.get(Document, document_id)
    if document is None:
        raise NotFound(f"No document with id {document_id}.")
    if document.stored_at is not None:
        path = Path(document.stored_at)
        if not path.is_file():
            raise NotFound(f"{document.file_name} is missing from the documents folder ({path.parent}).")
        content = path.read_bytes()
    else:
        content = document.content or b""
    return DocumentFile(document.file_name, document.media_type, content)
