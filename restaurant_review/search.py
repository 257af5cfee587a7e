"""Search as diners type: any case, any accents, any word order, the start of any word.

Text is folded in Python, the same way for what is stored and for what is typed: decomposed
(NFKD) so accents become separate marks, which are dropped; case-folded; and split into words
of letters and digits. "Taquería Doña Lupe" is stored as " taqueria dona lupe " and "DOÑA
lup" searches for the words "dona" and "lup", each matched by `LIKE '% dona%'`: the start of a
word, anywhere in the text. Folding in Python rather than with PostgreSQL's `unaccent` keeps
SQLite and PostgreSQL alike and lets a plain trigram index serve the LIKE (unaccent() is not
IMMUTABLE, so no index can be built on an expression using it).
"""

import re
import unicodedata

# At most this many words of a search are used: each is one LIKE.
MAX_WORDS = 6

_WORD = re.compile(r"\w+")
# Letters that are not a base letter plus an accent in Unicode, so NFKD leaves them whole.
_PLAIN = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)


def words(text: str) -> list[str]:
    """The folded words of `text`, in order."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _WORD.findall(bare.casefold().translate(_PLAIN).replace("_", " "))


def folded(*parts: str) -> str:
    """`parts` as stored for search: their folded words, each with a space before it, and one
    after the last (so " word" matches the start of every word)."""
    found = [word for part in parts for word in words(part)]
    return f" {' '.join(found)} " if found else ""


def query_words(text: str) -> list[str]:
    """The words a search for `text` looks for: folded, without repeats or words that another
    one starts (all must match), at most MAX_WORDS."""
    unique: list[str] = []
    for word in sorted(set(words(text)), key=len, reverse=True):
        if not any(kept.startswith(word) for kept in unique):
            unique.append(word)
    order = words(text)
    return sorted(unique, key=order.index)[:MAX_WORDS]


# A typed word this close to a stored word counts as a match in the forgiving search
# (pg_trgm's word_similarity: the share of the typed word's trigrams found in the text).
SIMILAR = 0.5


def _trigrams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def word_similarity(typed: str, text: str) -> float:
    """pg_trgm's word_similarity() for SQLite, on one typed word: the largest share of its
    trigrams found in one word of `text` (pg_trgm looks at runs of words; on the short,
    folded texts searched here the two agree where it matters: "pizzria" in "pizzeria")."""
    if not typed or not text:
        return 0.0
    wanted = _trigrams(typed)
    best = max((len(wanted & _trigrams(word)) for word in text.split()), default=0)
    return best / len(wanted)
