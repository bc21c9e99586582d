"""Text normalization shared by the classifier and the safety router."""

from __future__ import annotations

import functools
import re
import unicodedata

_REPEATS = re.compile(r"([a-z])\1{2,}")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")

# Chat spellings rewritten word by word (after lowercasing and accent removal).
CHAT_REWRITES: dict[str, str] = {
    # Dutch / Flemish
    "k": "ik",
    "kheb": "ik heb",
    "kben": "ik ben",
    "kwil": "ik wil",
    "kga": "ik ga",
    "kzou": "ik zou",
    "kzie": "ik zie",
    "kweet": "ik weet",
    "kmoet": "ik moet",
    "kvoel": "ik voel",
    "kan't": "kan niet",
    "ni": "niet",
    "nie": "niet",
    "da": "dat",
    "wa": "wat",
    "ne": "een",
    "mn": "mijn",
    "zelfmrd": "zelfmoord",
    "zlfmrd": "zelfmoord",
    "zelfmoor": "zelfmoord",
    # French
    "j": "je",
    "jveux": "je veux",
    "jsuis": "je suis",
    "chuis": "je suis",
    "pa": "pas",
    "jme": "je me",
    "jvois": "je vois",
    "jvoi": "je vois",
    "jai": "j ai",
    "jsais": "je sais",
    "plu": "plus",
    # English
    "im": "i am",
    "dont": "do not",
    "cant": "cannot",
    "wanna": "want to",
    "gonna": "going to",
    "kms": "kill myself",
    "kys": "kill yourself",
    "unalive": "kill",
    "sewerslide": "suicide",
    "suicid": "suicide",
}


# Letters that NFKD does not take apart: "nœud", "sœur", "straße", "søster".
_LIGATURES = str.maketrans(
    {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d"}
)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def valid_unicode(text: str) -> str:
    """`text` as storable, sendable Unicode: a surrogate pair is joined, a lone surrogate becomes U+FFFD.

    Lone surrogates come from JSON escapes ("\\ud800") and from undecodable bytes read with surrogateescape;
    sqlite3, json output and every platform API refuse them.
    """
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def ascii_int(text: str) -> int | None:
    """The number in a short answer such as "2", "2.", "(2)" or "#2"; only ASCII digits count ("²", "①" do not)."""
    raw = text.strip().strip("().:#!? ")
    if 0 < len(raw) <= 3 and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def clean_input(text: str) -> str:
    """Valid Unicode without control characters or surrounding white space, from user text."""
    return _CONTROL.sub(" ", valid_unicode(text)).strip()


@functools.lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Lowercase, strip accents, collapse letter runs, drop punctuation, rewrite chat spellings."""
    text = strip_accents(text.lower()).replace("m'n", "mijn").replace("'k ", "ik ")
    text = _REPEATS.sub(r"\1", text)
    words = _NON_WORD.sub(" ", text).split()
    return " ".join(CHAT_REWRITES.get(w, w) for w in words)
