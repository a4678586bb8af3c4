"""Text folding for search: "dong thap", "Đồng Tháp" and "ĐỒNG THÁP" are the same key."""

from __future__ import annotations

import unicodedata

# đ/Đ are letters of their own, not d + a combining mark: NFD leaves them alone.
_EXTRA = str.maketrans({"đ": "d", "Đ": "d", "ð": "d"})


def fold(text: str) -> str:
    """Lower case, no diacritics, đ → d, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFD", text.translate(_EXTRA))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def unit_key(name: str) -> str:
    """The key of a unit (an implementing unit, a commune office) from its name:
    "Trung tâm Khuyến công Nghệ An" → ``trung-tam-khuyen-cong-nghe-an``."""
    return "-".join("".join(c if c.isascii() and c.isalnum() else " " for c in fold(name)).split())
