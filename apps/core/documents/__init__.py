"""Versioned YAML documents: the core that policies, contracts and governance graphs share.

Pure Python, no Django: the engines import it and nothing else of the apps.

    doc = load_document(text)               # bounded, safe; raises DocumentError listing Issues
    doc.data, doc.line(("rules", 0, "tool"))
    content_digest(plain(doc.data))         # the identity of a published version
    cache = CompileCache(compile_policy)    # compiled once per process per digest
    rx = compile_pattern(text)              # a user's regex, run by RE2 in linear time
"""

from apps.core.documents.cache import CompileCache
from apps.core.documents.digest import content_digest
from apps.core.documents.issues import DocumentError, Issue, Path, path_text
from apps.core.documents.loader import LIMITS, Document, Limits, Mapping, Sequence, load_document, plain
from apps.core.documents.patterns import PatternError, compile_pattern

__all__ = [
    "LIMITS", "CompileCache", "Document", "DocumentError", "Issue", "Limits", "Mapping", "Path", "PatternError",
    "Sequence", "compile_pattern", "content_digest", "load_document", "path_text", "plain",
]
