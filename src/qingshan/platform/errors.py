"""Domain errors of the platform; :mod:`qingshan.api.errors` maps them to HTTP status codes."""

from __future__ import annotations

from qingshan.core.errors import QingshanError

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "StateError",
    "TooManyAttemptsError",
    "TooManyOpenUploadsError",
]


class AuthenticationError(QingshanError):
    """No valid login: wrong password, unknown user, expired or missing session (HTTP 401)."""

    code = "not_authenticated"


class PermissionDeniedError(QingshanError):
    """Logged in, but the role or the assigned scope does not allow the action (HTTP 403)."""

    code = "permission_denied"


class ConflictError(QingshanError):
    """The object already exists (e.g. a username taken) (HTTP 409)."""

    code = "conflict"


class StateError(QingshanError):
    """The action is not allowed in the object's current state, e.g. editing an approved
    (locked) version or publishing an unapproved run (HTTP 409)."""

    code = "invalid_state"


class NotFoundError(QingshanError, LookupError):
    """A run, a year, a user, a submission or another stored object that does not exist (HTTP 404)."""

    code = "not_found"


class TooManyAttemptsError(AuthenticationError):
    """Too many failed logins for one account in a short time (HTTP 429)."""

    code = "too_many_attempts"


class TooManyOpenUploadsError(QingshanError):
    """An account has too many unfinished chunked uploads (HTTP 429)."""

    code = "too_many_open_uploads"
