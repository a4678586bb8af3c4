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
