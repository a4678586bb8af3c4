"""Field types for HTTP request models: what every text a person types goes through."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints


def clean_text(value: Any) -> Any:
    """NFC, whitespace collapsed, no control characters, not just combining marks."""
    if not isinstance(value, str):
        return value
    text = unicodedata.normalize("NFC", " ".join(value.split()))
    if any(unicodedata.category(c) == "Cs" for c in text):  # half a UTF-16 pair: no character
        raise ValueError("Chứa ký tự không hợp lệ (nửa cặp UTF-16 đơn lẻ) / a lone surrogate is not a character")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise ValueError("Không được chứa ký tự điều khiển / control characters are not allowed")
    if text and all(unicodedata.combining(c) for c in text):
        raise ValueError("Chỉ có dấu, không có chữ / only combining marks, no letters")
    return text


_Clean = BeforeValidator(clean_text)

# Person-typed strings, checked *after* NFC normalisation (so limits count letters, not code points).
Text50 = Annotated[str, _Clean, StringConstraints(min_length=1, max_length=50)]
Text100 = Annotated[str, _Clean, StringConstraints(min_length=1, max_length=100)]
Text200 = Annotated[str, _Clean, StringConstraints(min_length=1, max_length=200)]
Text300 = Annotated[str, _Clean, StringConstraints(min_length=1, max_length=300)]
Text500 = Annotated[str, _Clean, StringConstraints(min_length=1, max_length=500)]
