"""The indexing package's one exception tree.

Every error says what went wrong, about which file or index, and what to do. `is_retryable` tells a caller
whether trying again unchanged can help (langchain-core style): a locked database can, a corrupt file cannot.
"""
from __future__ import annotations


class IndexingError(Exception):
    """Base class of every error raised by `indexing`."""

    is_retryable: bool = False


class LoaderError(IndexingError):
    """A file could not be turned into a document (empty, binary, encrypted, corrupt, too large, unknown type).

    Attributes:
        path: The file that was refused.
        reason: Short machine-friendly reason, e.g. "empty", "binary", "encrypted", "corrupt", "too_large",
            "unsupported_type", "unreadable".
        hint: What the user can do about it.
    """

    def __init__(self, path: object, reason: str, detail: str, hint: str) -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        self.hint = hint
        super().__init__(f"{self.path}: {detail}; {hint}")


class UnsupportedFileType(LoaderError):
    """No loader reads this file type (reason "unsupported_type")."""

    def __init__(self, path: object, detail: str, hint: str) -> None:
        super().__init__(path, "unsupported_type", detail, hint)


class FileTooLarge(LoaderError):
    """The file is over the size limit (reason "too_large")."""

    def __init__(self, path: object, detail: str, hint: str) -> None:
        super().__init__(path, "too_large", detail, hint)


class EmbedderError(IndexingError):
    """The embedding model could not be loaded or failed to embed."""


class StoreError(IndexingError):
    """The index on disk is unusable (wrong dimension, different model, locked for too long)."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.is_retryable = retryable


class ManifestError(IndexingError):
    """A manifest file (groups and classification per document) is malformed."""
