"""Business errors: small, specific, safe to show to a user as they are."""

from __future__ import annotations


class RecoupError(Exception):
    """Base class for every error a page or the CLI may show as a plain message."""


class ConfigError(RecoupError):
    """The configuration is missing or unsafe."""


class CurrencyMismatch(RecoupError):
    """Two amounts in different currencies were combined or compared."""


class InvalidAmount(RecoupError):
    """An amount was given in a form Recoup refuses (a float, NaN, an unknown currency)."""


class ValidationError(RecoupError):
    """Input failed a business rule; the message says which and why."""


class NotFound(RecoupError):
    """The record asked for does not exist (or is not visible to this user)."""


class Conflict(RecoupError):
    """The record changed or already exists; nothing was written."""


class PermissionDenied(RecoupError):
    """The acting user's role does not allow this action. Audited even though refused."""

    def __init__(
        self,
        message: str,
        *,
        actor_id: int | None,
        actor: str,
        action: str,
        entity_type: str,
        entity_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.actor_id = actor_id
        self.actor = actor
        self.action = action
        self.entity_type = entity_type
        self.entity_id = entity_id


class TemplateError(ValidationError):
    """A template does not parse, names an unknown field, or was refused by the sandbox."""
