"""The values content carries, normalised: what provenance conditions compare. Pure Python, no Django.

A value is the text "kind:normalised", so one value found in a web page, in the user's message and
in a tool call's argument compares equal however each one wrote it:

    url:example.com/pay?to=1      scheme dropped; host lower-cased, without "www." or a default port;
                                  no trailing "/" and no #fragment ("HTTPS://WWW.Example.com/pay/?to=1")
                                  a sentence glued on ("www.example.com.Then") is cut at its last known suffix
    domain:example.com            the host of every URL and e-mail address
    email:bob@example.com         lower-cased
    iban:GB82WEST12345698765432   upper-cased, spaces removed (IBAN-shaped; the checksum is not required)
    token:inv-2024-00017          identifiers of 8+ characters mixing letters and digits, lower-cased
    number:1250.5                 "1,250.50", "1250.5" and 1250.5 alike
    text:<hash>                   one sentence of 5+ words (mostly letters), and one quoted span of 5+ words
                                  ("... title should be 'Booking a room at the hotel'"); case, punctuation,
                                  spacing ignored
    word:alice                    a word of *trusted* content only, so `from: trusted` can check a name

Where each value first appeared in an episode is provenance.py's business.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

from publicsuffixlist import PublicSuffixList

KINDS = ("url", "domain", "email", "iban", "token", "number", "text", "word")
MAX_VALUE = 400  # longer normalised values are indexed by a hash, so index keys stay small
MIN_SENTENCE_WORDS = 5

_PSL = PublicSuffixList()
# Bare "name.tld" is a domain only under a known public suffix, and not under suffixes that are
# far more often file extensions in agent traffic.
_FILE_SUFFIXES = frozenset(("py", "md", "sh", "rs", "pl", "js", "ts", "cs", "so", "zip", "mov", "sql"))

# Text is cut into runs without white space, quotes or brackets; each run is then classified
# with a few cheap tests, which is several times faster than one alternation over the whole text.
# Only runs with a digit, ".", "@" or ":" can hold a value (URLs, addresses, numbers, identifiers);
# the rest are words, skipped by the pattern itself. It is anchored at a run's start and
# possessive, so a long word costs one pass.
_VALUED = re.compile(r"(?<![^\s\"'<>`()\[\]{}|])[^\s\"'<>`()\[\]{}|\d.@:]*+[\d.@:][^\s\"'<>`()\[\]{}|]*")
_IBAN_HEAD = re.compile(r"[A-Za-z]{2}\d{2}")  # how a run before a spaced IBAN's first space ends
_SPACED_IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,3})?\b")
_IBAN = re.compile(r"[A-Za-z]{2}\d{2}[A-Za-z0-9]{10,30}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_BARE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?:/\S*)?")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{8,}")
_LEADING = "$€£¥+*#~:=,;.!?"
_DIGIT = re.compile(r"\d")
_PUNCTUATION = re.compile(r"[^A-Za-z0-9_-]+")
_DASHES = re.compile(r"[^A-Za-z0-9]+")
_SENTENCES = re.compile(r"[.!?;\n]+(?:\s|$)|\n")
# A quoted span ('...', "...", curly quotes) that opens and closes at word boundaries, so that an
# apostrophe ("don't") neither opens nor closes one.
_QUOTED = re.compile(r"""(?:^|(?<=[\s(\[:,=]))(?:'([^'\n]+)'|"([^"\n]+)"|‘([^’\n]+)’|“([^”\n]+)”)"""
                     r"""(?=$|[\s.,;:!?)\]])""")
_NON_WORD = re.compile(r"[\W_]+")
_TRAILING = ".,;:!?)]}'\""
_GLUED = re.compile(r"(.+\.[A-Za-z]{2,24})\.([A-Z][a-z]+)")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_PATH_PLAIN = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=._~-]*")


class Found(NamedTuple):
    """A value found in an argument: `raw` as written there, `value` normalised. (A named tuple:
    decisions make a few of these per argument, and a tuple is several times cheaper to build than a
    frozen dataclass.)"""

    raw: str
    value: str

    @property
    def kind(self) -> str:
        return self.value[:self.value.index(":")]


# -- normalisation -------------------------------------------------------------------------------


def _capped(kind: str, text: str) -> str:
    if len(text) > MAX_VALUE:
        text = "#" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
    return f"{kind}:{text}"


def url_parts(raw: str) -> tuple[str, str] | None:
    """(host, normalised URL) of a URL written with or without a scheme; None if it has no host."""
    text = raw.rstrip(_TRAILING)
    try:
        parts = urlsplit(text if "://" in text else "http://" + text)
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    host = host.encode("idna").decode("ascii") if not host.isascii() else host
    host = host[4:] if host.startswith("www.") else host
    port_text = f":{port}" if port and port not in (80, 443) else ""
    path = parts.path
    if not _PATH_PLAIN.fullmatch(path):  # one spelling for percent-encoded and raw characters
        path = quote(unquote(path), safe=_PATH_SAFE)
    path = path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    return host, f"{host}{port_text}{path}{query}"


def email_domain(raw: str) -> str | None:
    """The lower-cased domain of an e-mail address (`Name <a@b.example>` too), or None."""
    text = raw.strip()
    if text.endswith(">") and "<" in text:
        text = text[text.rindex("<") + 1:-1]
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in domain):
        return None
    return domain.lower().rstrip(".")


def domain_matches(host: str, domains: Iterable[str]) -> bool:
    """`host` is one of `domains` or a subdomain of one (case-insensitive; "www." ignored)."""
    host = host.lower().rstrip(".")
    host = host[4:] if host.startswith("www.") else host
    return any(host == d or host.endswith("." + d) for d in domains)


def normal_domain(domain: str) -> str:
    domain = domain.strip().lower().rstrip(".")
    return domain[4:] if domain.startswith("www.") else domain


def _number(raw: str) -> str | None:
    try:
        value = float(raw.replace(",", ""))
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    if value.is_integer() and abs(value) < 1e18:
        return "number:" + str(int(value))
    return "number:" + repr(value)


def _sentence(text: str) -> str | None:
    words = _NON_WORD.sub(" ", text.casefold()).split()
    # Prose, not a spaced-out identifier: enough words, most of them words of letters.
    if len(words) < MIN_SENTENCE_WORDS or sum(w.isalpha() for w in words) * 2 < len(words):
        return None
    return "text:" + hashlib.blake2b(" ".join(words).encode(), digest_size=8).hexdigest()


# -- extraction ----------------------------------------------------------------------------------


def _scan(text: str) -> list[Found]:
    out: list[Found] = []
    chunks = _VALUED.findall(text)
    if " " in text:
        for c in chunks:
            if len(c) >= 4 and _IBAN_HEAD.fullmatch(c, len(c) - 4):  # perhaps a spaced IBAN's first group
                chunks = _spaced_ibans(text, out)
                break
    for raw in chunks:
        chunk = raw.strip(_TRAILING).lstrip(_LEADING)
        if not chunk or chunk.isalpha():  # a word: most of any text, and never a value of its own
            continue
        if chunk.isascii() and chunk.isalnum():  # letters and digits only: the commonest values
            if chunk.isdigit():
                if len(chunk) <= 15:
                    out.append(Found(chunk, "number:" + str(int(chunk))))
                    continue
            elif _IBAN.fullmatch(chunk):
                out.append(Found(chunk, "iban:" + chunk.upper()))
                continue
            else:
                if len(chunk) >= 8:
                    out.append(Found(chunk, _capped("token", chunk.lower())))
                continue
        _chunk(chunk, out)
    return out


def _spaced_ibans(text: str, out: list[Found]) -> list[str]:
    """Adds the spaced IBANs of `text` to `out`; returns the runs of the rest that can hold values."""
    spaced = list(_SPACED_IBAN.finditer(text))
    for m in spaced:
        out.append(Found(m.group(), "iban:" + m.group().replace(" ", "").upper()))
    if spaced:  # its groups of four are not numbers of their own
        text = _SPACED_IBAN.sub(lambda m: " " * len(m.group()), text)
    return _VALUED.findall(text)


def _chunk(chunk: str, out: list[Found]) -> None:
    """Adds the values of one run of text without white space to `out`."""
    glued = _GLUED.fullmatch(chunk) if "." in chunk else None
    if glued is not None and _PSL.publicsuffix(glued.group(2).lower(), accept_unknown=False) is None:
        chunk = glued.group(1)  # "www.example.com.Then": a sentence glued to an address after its full stop
    if "://" in chunk or chunk[:4].lower() == "www.":
        parts = url_parts(chunk)
        if parts is not None and "." in parts[0]:
            out.append(Found(chunk, _capped("url", parts[1])))
            out.append(Found(chunk, "domain:" + parts[0]))
        return
    if "@" in chunk:
        for m in _EMAIL.finditer(chunk):
            out.append(Found(m.group(), _capped("email", m.group().lower())))
            out.append(Found(m.group(), "domain:" + m.group().rpartition("@")[2].lower()))
        return
    if "." in chunk and _BARE.fullmatch(chunk):
        parts = url_parts(chunk)
        if parts is not None and _is_domain(parts[0]):
            out.append(Found(chunk, _capped("url", parts[1])))
            out.append(Found(chunk, "domain:" + parts[0]))
            return
    if _DIGIT.search(chunk) is None:
        return
    if _IBAN.fullmatch(chunk):
        out.append(Found(chunk, "iban:" + chunk.upper()))
    elif _NUMBER.fullmatch(chunk):
        number = _number(chunk)
        if number is not None:
            out.append(Found(chunk, number))
    elif _TOKEN.fullmatch(chunk) and not chunk.replace("-", "").replace("_", "").isdigit():
        out.append(Found(chunk, _capped("token", chunk.lower())))
    else:  # "bill-2023.txt", "12:30", "2024-05-01": the parts between punctuation
        pieces = _PUNCTUATION.split(chunk)
        if len(pieces) == 1:
            pieces = _DASHES.split(chunk)
        for part in pieces:
            if part and part != chunk:
                _chunk(part, out)


def _is_domain(host: str) -> bool:
    suffix = _PSL.publicsuffix(host, accept_unknown=False)
    return suffix is not None and suffix != host and suffix not in _FILE_SUFFIXES


def text_found(text: str) -> list[Found]:
    """Every value in a text: the scanned kinds, then one `text:` value per sentence of 5+ words."""
    out = _scan(text)
    if text.count(" ") + text.count("\n") < MIN_SENTENCE_WORDS - 1:
        return out
    for sentence in _SENTENCES.split(text):
        value = _sentence(sentence)
        if value is not None:
            out.append(Found(sentence.strip(), value))
    if "'" in text or '"' in text or "‘" in text or "“" in text:
        for m in _QUOTED.finditer(text):  # text an instruction asks to copy verbatim is a value of its own
            quoted = next(g for g in m.groups() if g is not None)
            value = _sentence(quoted)
            if value is not None:
                out.append(Found(quoted.strip(), value))
    return out


@functools.lru_cache(maxsize=4096)
def _text_found_cached(text: str) -> tuple[Found, ...]:
    return tuple(text_found(text))


def found_in(value: Any) -> Iterator[Found]:
    """Values in strings and numbers anywhere inside JSON data (keys are structure, not data)."""
    if isinstance(value, str):
        # A decision checks one argument under several rules (and again after a rewrite), and
        # runtimes repeat recipients and URLs: short texts are scanned once per process.
        yield from _text_found_cached(value) if len(value) <= 2000 else text_found(value)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        number = _number(str(value))
        if number is not None:
            yield Found(str(value), number)
    elif isinstance(value, dict):
        for item in value.values():
            yield from found_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from found_in(item)
    else:  # Decimal and friends
        yield from text_found(str(value))


def values_of(value: Any) -> Sequence[Found]:
    """found_in as a sequence: for a short string, the per-process memo itself (no copy)."""
    if isinstance(value, str) and len(value) <= 2000:
        return _text_found_cached(value)
    return list(found_in(value))


def words_in(value: Any) -> Iterator[Found]:
    """Each word of the text inside JSON data, as `word:` values."""
    if isinstance(value, str):
        for word in _NON_WORD.sub(" ", value.casefold()).split():
            yield Found(word, _capped("word", word))
    elif isinstance(value, dict):
        for item in value.values():
            yield from words_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from words_in(item)


def argument_found(value: Any) -> Sequence[Found]:
    """What an argument carries, for provenance checks; an argument without identifiers, numbers or
    sentences (a name such as "Alice") stands for its words."""
    if isinstance(value, str) and len(value) <= 2000:
        return _argument_found_cached(value)  # a decision asks again for each rule and after a rewrite
    found = list(dict.fromkeys(found_in(value)))
    if not found:
        found = list(dict.fromkeys(words_in(value)))
    return found


@functools.lru_cache(maxsize=4096)
def _argument_found_cached(text: str) -> tuple[Found, ...]:
    found = _text_found_cached(text)
    if len(found) > 1:
        found = tuple(dict.fromkeys(found))
    return found or tuple(dict.fromkeys(words_in(text)))
