"""Named errors of the registry's rules. Messages: Vietnamese first, then English."""

from __future__ import annotations


class RegistryError(ValueError):
    """A registry rule refused the command."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidTaxCodeError(RegistryError):
    """Mã số thuế sai định dạng hoặc sai số kiểm tra."""


class UnknownAdminUnitError(RegistryError):
    """Mã đơn vị hành chính không tồn tại."""


class OutsideProvinceError(RegistryError):
    """The unit is not in this instance's province."""


class DuplicateEstablishmentError(RegistryError):
    """Another establishment already has this tax / registration number."""


class StaleVersionError(RegistryError):
    """The caller edited an older version than the one stored (optimistic concurrency)."""


class DocumentError(RegistryError):
    """A legal-dossier document was refused (empty, too large, unknown, already decided)."""


class RecognitionError(RegistryError):
    """A recognition (certificate) was refused."""
