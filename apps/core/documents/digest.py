"""The content digest of a document: what identifies a published version.

It hashes the parsed data, not the text, so comments and layout do not make a new version.
"""

import hashlib
import json
from typing import Any


def content_digest(data: Any) -> str:
    # default=str keeps digests of versions published before dates were read as text unchanged:
    # str(date(2024, 1, 2)) is the text "2024-01-02" the loader now keeps.
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()
