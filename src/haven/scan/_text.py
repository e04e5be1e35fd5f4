"""Finding a survivor's personal information in page text, without giving the scanner her words.

A counsellor records a survivor's identifiers (names, phone numbers, e-mail addresses,
handles, her school or workplace, the titles of posts that carried her pictures).  The
scanner never receives them: :meth:`TextBank.build` turns each one into *keyed hashes*
(HMAC-SHA-256 with a key made for one bank) of its normalised forms, and a scan hashes the
normalised text of every page the same way and compares hashes.

Normalisation is the same on both sides, so it only has to agree with itself:

- Unicode compatibility forms (full-width letters and digits, ligatures) and case are
  folded, accents and zero-width characters dropped, common Cyrillic and Greek look-alikes
  read as Latin letters, and Hangul spelled out in separate jamo ("ㄱㅣㅁ") composed back
  into syllables;
- text is cut into tokens: words of alphabetic scripts, and single characters of scripts
  written without spaces (Hangul, Han, kana, Thai);
- a *window* is a run of consecutive tokens written together without spaces.  "김 지은",
  "김지은이" (with a particle) and "K i m  J i - e u n" all contain the window of
  "김지은" or "kimjieun".  Only windows whose length some identifier has are hashed.

Phone numbers are read from runs of digits (separators, Korean digit words such as
"공일공" and the letters o and l standing in for digits included) and compared in E.164 form
(``phonenumbers``), so "010 1234 5678", "+82-10-1234-5678" and "공일공-1234-5678" agree;
a number with its middle or end masked ("010-xxxx-5678") is a weaker match.  E-mail
addresses are read with their usual disguises ("kim [at] example dot com").

A page raises a candidate for a case when it contains an identifier that is enough on its
own (a full phone number, an e-mail address, a long handle or title by default), or
identifiers of at least ``min_kinds`` different kinds (a name and a school), so that a
common name alone never floods the review queue.

What the hashes protect against, and what not: a bank file, a worker's memory or a log
shows no identifier in readable form.  Whoever holds a bank *and its key* can test guesses
against it (a phone number has few enough possibilities to try them all), so a bank is as
sensitive as the scanner that runs it: it lives for one scan, and its key is new each time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from itertools import product
from typing import Any, Final

__all__ = [
    "IDENTIFIER_KINDS",
    "PersonalIdentifier",
    "TextBank",
    "TextBankError",
    "TextCandidate",
    "TextMatch",
    "default_alone",
    "mask",
    "normalise",
    "page_text",
    "romanise",
]

IDENTIFIER_KINDS: Final = ("name", "phone", "email", "handle", "place", "keyword")
"""``place``: her school or workplace; ``keyword``: the title or words of a post about her."""

MAX_WINDOW_CHARS: Final = 64
MAX_WINDOW_TOKENS: Final = 32
MAX_TEXT_CHARS: Final = 300_000
"""Page text beyond this is not read (a hostile page may be endless)."""
SNIPPET_CONTEXT: Final = 120
_DIGEST_BYTES: Final = 16
_SHINGLE_WORDS: Final = 3
_WHOLE_TITLE_WORDS: Final = 6


class TextBankError(ValueError):
    """A text bank or an identifier cannot be used; the message says why."""


# -- normalisation ----------------------------------------------------------------------

# Letters of Cyrillic and Greek that look like Latin ones: "Кim" with a Cyrillic К is a
# disguise, and both sides fold it the same way.
_LOOKALIKES: Final = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "і": "i", "ј": "j", "к": "k", "м": "m",
        "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d",
        "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
        "υ": "u", "χ": "x",
    }
)  # fmt: skip

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_L_FIRST, _V_FIRST, _T_FIRST = 0x1100, 0x1161, 0x11A7
# A leading consonant that closes the syllable before it: its index among the trailing ones.
_LEAD_AS_TAIL: Final = {
    0: 1, 1: 2, 2: 4, 3: 7, 5: 8, 6: 16, 7: 17, 9: 19, 10: 20, 11: 21, 12: 22, 14: 23, 15: 24,
    16: 25, 17: 26, 18: 27,
}  # fmt: skip

_FILLERS: Final = frozenset("\u115f\u1160\u3164\uffa0")
_fold_cache: dict[str, str] = {}


def _fold(ch: str) -> str:
    """One character as matching sees it ('' for what is dropped)."""
    out = _fold_cache.get(ch)
    if out is not None:
        return out
    code = ord(ch)
    if _HANGUL_FIRST <= code <= _HANGUL_LAST:
        out = ch  # NFKD would split a syllable into jamo
    elif unicodedata.category(ch) == "Cf" or ch in _FILLERS:
        out = ""  # zero-width spaces and joiners, soft hyphens, Hangul fillers: common disguises
    else:
        decomposed = unicodedata.normalize("NFKD", ch)
        kept = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
        out = unicodedata.normalize("NFC", kept).casefold().translate(_LOOKALIKES)
    if len(_fold_cache) < 100_000:
        _fold_cache[ch] = out
    return out


def _is_lead(c: str) -> bool:
    return _L_FIRST <= ord(c) <= 0x1112


def _is_vowel(c: str) -> bool:
    return _V_FIRST <= ord(c) <= 0x1175


def _compose_jamo(chars: list[str], pos: list[int]) -> tuple[list[str], list[int]]:
    """Separate jamo (as NFKD leaves "ㄱㅣㅁ": leading consonants and vowels) back into syllables;
    spaces between single jamo are dropped ("ㄱ ㅣ ㅁ")."""
    if not any(_is_lead(c) or _is_vowel(c) for c in chars):
        return chars, pos
    out: list[str] = []
    where: list[int] = []
    i, n = 0, len(chars)

    def jamo_at(k: int) -> int:
        """The index of the next jamo from k, skipping single spaces between jamo; -1 if none."""
        while (
            k < n
            and chars[k] == " "
            and k > 0
            and (_is_lead(chars[k - 1]) or _is_vowel(chars[k - 1]))
            and k + 1 < n
            and (_is_lead(chars[k + 1]) or _is_vowel(chars[k + 1]))
        ):
            k += 1
        return k if k < n and (_is_lead(chars[k]) or _is_vowel(chars[k])) else -1

    while i < n:
        c = chars[i]
        if _is_lead(c):
            v = jamo_at(i + 1)
            if v != -1 and _is_vowel(chars[v]):
                lead, vowel = ord(c) - _L_FIRST, ord(chars[v]) - _V_FIRST
                tail, end = 0, v + 1
                t = jamo_at(v + 1)
                if t != -1 and _is_lead(chars[t]) and ord(chars[t]) - _L_FIRST in _LEAD_AS_TAIL:
                    after = jamo_at(t + 1)
                    if after == -1 or not _is_vowel(chars[after]):
                        tail, end = _LEAD_AS_TAIL[ord(chars[t]) - _L_FIRST], t + 1
                out.append(chr(_HANGUL_FIRST + (lead * 21 + vowel) * 28 + tail))
                where.append(pos[i])
                i = end
                continue
        out.append(c)
        where.append(pos[i])
        i += 1
    return out, where


def _normalised(text: str) -> tuple[str, list[int]]:
    """The folded text, and for each of its characters the index of the character it came from."""
    chars: list[str] = []
    pos: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            chars.append(ch.lower() if "A" <= ch <= "Z" else ch)
            pos.append(i)
            continue
        for c in _fold(ch):
            chars.append(c)
            pos.append(i)
    chars, pos = _compose_jamo(chars, pos)
    return "".join(chars), pos


def _unspaced(c: str) -> bool:
    """Scripts written without spaces between words: each character is a token of its own."""
    o = ord(c)
    return (
        _HANGUL_FIRST <= o <= _HANGUL_LAST
        or 0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or 0x3040 <= o <= 0x30FF
        or 0x0E00 <= o <= 0x0E7F
    )


def _word_char(c: str) -> bool:
    if c.isascii():
        return c.isalnum()
    return unicodedata.category(c)[0] in "LNM"


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int  # in the normalised text
    end: int


def _tokens(norm: str) -> list[_Token]:
    out: list[_Token] = []
    start = -1
    for i, c in enumerate(norm):
        if _word_char(c):
            if _unspaced(c):
                if start != -1:
                    out.append(_Token(norm[start:i], start, i))
                    start = -1
                out.append(_Token(c, i, i + 1))
            elif start == -1:
                start = i
        elif start != -1:
            out.append(_Token(norm[start:i], start, i))
            start = -1
    if start != -1:
        out.append(_Token(norm[start:], start, len(norm)))
    return out


def normalise(text: str) -> str:
    """The compact form matching compares: folded tokens written together ("Kim Ji-eun" -> "kimjieun")."""
    norm, _pos = _normalised(text)
    return "".join(t.text for t in _tokens(norm))


def _words(text: str) -> list[str]:
    """Folded words separated by spaces (for titles cut into overlapping word runs)."""
    norm, _pos = _normalised(text)
    return ["".join(t.text for t in _tokens(w)) for w in norm.split() if _tokens(w)]


# -- romanisation of Korean names -------------------------------------------------------------

_RR_LEAD: Final = (
    "g", "kk", "n", "d", "tt", "r", "m", "b", "pp", "s", "ss", "", "j", "jj", "ch", "k", "t", "p", "h",
)  # fmt: skip
_RR_VOWEL: Final = (
    "a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae", "oe", "yo", "u", "wo", "we", "wi",
    "yu", "eu", "ui", "i",
)  # fmt: skip
_RR_TAIL: Final = (
    "", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l", "p", "l", "m", "p", "p", "t",
    "t", "ng", "t", "t", "k", "t", "p", "t",
)  # fmt: skip
# The spellings of common surnames that people actually use (passports, profiles).
_SURNAMES: Final = {
    "김": ("kim", "gim"), "이": ("lee", "yi", "rhee", "rhie", "li", "i"), "박": ("park", "pak", "bak"),
    "최": ("choi", "choe"), "정": ("jung", "jeong", "chung", "joung"), "강": ("kang", "gang"),
    "조": ("cho", "jo"), "윤": ("yoon", "yun"), "장": ("jang", "chang"), "임": ("lim", "im", "yim"),
    "한": ("han",), "오": ("oh", "o"), "서": ("seo", "suh"), "신": ("shin", "sin"),
    "권": ("kwon", "gwon"), "황": ("hwang",), "안": ("ahn", "an"), "송": ("song",),
    "류": ("ryu", "yoo", "yu"), "유": ("yoo", "yu"), "전": ("jeon", "jun", "chun"),
    "홍": ("hong",), "고": ("ko", "go", "koh"), "문": ("moon", "mun"), "양": ("yang",),
    "손": ("son", "sohn"), "배": ("bae", "pae"), "백": ("baek", "paik"), "허": ("heo", "hur", "huh"),
    "노": ("noh", "roh", "no"), "남": ("nam",), "심": ("shim", "sim"), "하": ("ha",),
    "곽": ("kwak", "gwak"), "성": ("sung", "seong"), "차": ("cha",), "주": ("joo", "ju"),
    "우": ("woo", "u"), "구": ("koo", "gu"), "민": ("min",), "진": ("jin",), "나": ("na", "ra"),
    "추": ("choo", "chu"), "엄": ("um", "eom"), "천": ("chun", "cheon"), "변": ("byun", "byeon"),
    "공": ("kong", "gong"), "염": ("yeom", "yum"), "여": ("yeo", "yuh"), "표": ("pyo",), "길": ("gil", "kil"),
    "위": ("wi", "wee"), "석": ("seok", "suk"), "설": ("seol", "sul"), "마": ("ma",),
    "기": ("ki", "gi"),
    "반": ("ban", "bahn"), "방": ("bang",), "왕": ("wang",), "탁": ("tak",), "육": ("yook", "yuk"),
    "도": ("do", "doh"), "제": ("je", "jae"), "봉": ("bong",), "편": ("pyun", "pyeon"),
    "명": ("myung", "myeong"),
    "함": ("ham",), "지": ("ji", "jee"), "현": ("hyun", "hyeon"), "채": ("chae",), "원": ("won",),
    "남궁": ("namkoong", "namgung"), "황보": ("hwangbo",), "제갈": ("jegal",), "선우": ("sunwoo", "seonu"),
    "독고": ("dokgo",),
}  # fmt: skip
_DOUBLE_SURNAMES: Final = ("남궁", "황보", "제갈", "선우", "독고", "사공", "서문")
# Other spellings of a syllable's parts that names are commonly written with.
_ALT_LEAD: Final = {"g": ("k",), "d": ("t",), "b": ("p",), "j": ("ch",), "r": ("l",), "s": ("sh",)}
_ALT_VOWEL: Final = {
    "eo": ("u", "o", "uh"), "u": ("oo",), "eu": ("u",), "i": ("ee",), "yeo": ("yu", "you"),
    "ui": ("ee", "i"), "yu": ("yoo",), "ae": ("ai",), "oe": ("oi",), "a": ("ah",), "ye": ("yeh", "ae"),
}  # fmt: skip
_MAX_NAME_SPELLINGS: Final = 64


def _syllable_parts(ch: str) -> tuple[str, str, str]:
    index = ord(ch) - _HANGUL_FIRST
    return _RR_LEAD[index // 588], _RR_VOWEL[(index % 588) // 28], _RR_TAIL[index % 28]


def romanise(hangul: str) -> str:
    """Revised Romanisation, syllable by syllable, as names are written ("김지은" -> "gimjieun")."""
    out = []
    for ch in hangul:
        if _HANGUL_FIRST <= ord(ch) <= _HANGUL_LAST:
            out.append("".join(_syllable_parts(ch)))
        else:
            out.append(ch)
    return "".join(out)


def _given_spellings(given: str) -> list[str]:
    options = []
    for ch in given:
        lead, vowel, tail = _syllable_parts(ch)
        leads = [lead, *_ALT_LEAD.get(lead, ())]
        vowels = [vowel, *_ALT_VOWEL.get(vowel, ())]
        # The Revised Romanisation first, so that a cap keeps it.
        options.append(list(dict.fromkeys(a + b + tail for a in leads for b in vowels)))
    return ["".join(p) for p in product(*options)][:_MAX_NAME_SPELLINGS]


def _korean_name_spellings(name: str) -> list[str]:
    """Romanised spellings of a Hangul name, in both orders ("kimjieun", "jieunkim", "gimjiun" ...)."""
    if not 2 <= len(name) <= 5 or not all(_HANGUL_FIRST <= ord(c) <= _HANGUL_LAST for c in name):
        return []
    cut = 2 if name[:2] in _DOUBLE_SURNAMES and len(name) > 2 else 1
    surname, given = name[:cut], name[cut:]
    families = list(_SURNAMES.get(surname, ())) or [romanise(surname)]
    if romanise(surname) not in families:
        families.append(romanise(surname))
    out: list[str] = []
    for g in _given_spellings(given):
        for f in families:
            out += [f + g, g + f]
    return list(dict.fromkeys(out))[: 8 * _MAX_NAME_SPELLINGS]


# -- page text --------------------------------------------------------------------------------


class _TextParser(HTMLParser):
    _SKIP: Final = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    _BLOCK: Final = frozenset(
        {"p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "title",
         "section", "article", "header", "footer", "blockquote", "pre", "dd", "dt", "figcaption"}
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.size = 0
        self.skipping = 0
        self.in_title = False

    def _add(self, text: str) -> None:
        if self.size < MAX_TEXT_CHARS:
            self.parts.append(text)
            self.size += len(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in self._SKIP:
            self.skipping += 1
        if tag in self._BLOCK:
            self._add("\n")
        a = dict(attrs)
        if tag == "img":
            for attr in ("alt", "title"):
                if a.get(attr):
                    self._add(f"\n{a[attr]}\n")
        elif tag == "meta":
            key = (a.get("property") or a.get("name") or "").lower()
            if key in ("description", "og:title", "og:description", "twitter:title", "twitter:description"):
                self._add(f"\n{a.get('content') or ''}\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in self._SKIP and self.skipping:
            self.skipping -= 1
        if tag in self._BLOCK:
            self._add("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title or not self.skipping:
            self._add(data)


def page_text(html: str | bytes) -> str:
    """The text a reader of the page sees (with its title, picture captions and description)."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    parser = _TextParser()
    try:
        parser.feed(text[: MAX_TEXT_CHARS * 4])
        parser.close()
    except (AssertionError, ValueError):
        pass
    joined = "".join(parser.parts)[:MAX_TEXT_CHARS]
    return re.sub(r"[ \t\r\f\v]*\n\s*", "\n", re.sub(r"[ \t\r\f\v]+", " ", joined)).strip()


# -- identifiers and their keys ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonalIdentifier:
    """One of a survivor's identifiers, in plain text: what a counsellor records.

    ``value`` may hold several spellings, one a line.  ``alone``: whether finding it is
    enough to raise a candidate (None: the kind's default, :func:`default_alone`).
    ``region``: the country a phone number is dialled in (ISO 3166, e.g. ``KR``).
    """

    id: str
    case_id: str
    kind: str
    value: str
    alone: bool | None = None
    region: str = "KR"


def default_alone(kind: str, value: str) -> bool:
    """Whether an identifier is specific enough on its own: a phone number or an e-mail address;
    a handle of 8 characters or more or with digits, dots or underscores; a title of 3 words or more.
    A name or a school never is: many people share them."""
    if kind in ("phone", "email"):
        return True
    if kind == "handle":
        return len(normalise(value)) >= 8 or bool(re.search(r"[0-9._]", value))
    if kind == "keyword":
        return len(_words(value)) >= 3
    return False


@dataclass(frozen=True, slots=True)
class _Variant:
    keys: tuple[bytes, ...]
    need: int
    weak: bool
    chain: bool = False
    """For a variant of several keys (a title's words, in order): ``need`` of them must follow one
    another on the page, a few characters apart, in their order with at most one word dropped or
    two neighbours swapped; otherwise (False) they may be anywhere on the page."""


@dataclass(frozen=True, slots=True)
class _Entry:
    id: str
    case_id: str
    kind: str
    alone: bool
    variants: tuple[_Variant, ...]


def _mac(key: bytes, text: str) -> bytes:
    return hmac.digest(key, text.encode("utf-8"), hashlib.sha256)[:_DIGEST_BYTES]


def _phone_forms(value: str, region: str) -> tuple[str, list[str]]:
    """Her number in E.164 and its masked national forms ("010****5678", "0101234****")."""
    import phonenumbers

    digits = _digits_of(value)
    try:
        number = phonenumbers.parse(digits if digits else value, region)
    except phonenumbers.NumberParseException:
        raise TextBankError(f"{value!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise TextBankError(f"{value!r} is not a valid phone number in {region}")
    national = re.sub(r"\D", "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    masked = []
    if len(national) >= 9:
        masked.append(national[:3] + "*" * (len(national) - 7) + national[-4:])
        masked.append(national[:-4] + "****")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), masked


_EMAIL = re.compile(r"^[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}$")


def _forms(identifier: PersonalIdentifier) -> list[tuple[list[str], int, bool]]:
    """What to look for: (texts to hash, how many of them a page must hold, weak)."""
    spellings = [line.strip() for line in identifier.value.splitlines() if line.strip()]
    if not spellings:
        raise TextBankError(f"identifier {identifier.id}: empty")
    forms: list[tuple[list[str], int, bool]] = []
    for spelling in spellings:
        if identifier.kind == "phone":
            e164, masked = _phone_forms(spelling, identifier.region)
            forms.append(([f"p:{e164}"], 1, False))
            forms += [([f"m:{m}"], 1, True) for m in masked]
        elif identifier.kind == "email":
            email = normalise_email(spelling)
            if not _EMAIL.match(email):
                raise TextBankError(f"{spelling!r} is not an e-mail address")
            forms.append(([f"e:{email}"], 1, False))
        elif identifier.kind == "handle" and _PUNCTUATED.fullmatch(literal := _handle_literal(spelling)):
            # "nayeon.kim" as written is hers; "Nayeon Kim" in a sentence may be anyone's name: the
            # handle's letters without its dots and underscores count only with another kind.
            forms.append(([f"h:{literal}"], 1, False))
            forms.append(([f"w:{normalise(spelling)}"], 1, True))
        else:
            compact = normalise(spelling)
            if not compact:
                raise TextBankError(f"{spelling!r} has no letters or digits")
            words = _words(spelling)
            if identifier.kind == "keyword" and (
                len(words) > _WHOLE_TITLE_WORDS or len(compact) > MAX_WINDOW_CHARS
            ):
                forms += _reworded_title(words)
                shingles = list(
                    dict.fromkeys(
                        "".join(words[k : k + _SHINGLE_WORDS])[:MAX_WINDOW_CHARS]
                        for k in range(len(words) - _SHINGLE_WORDS + 1)
                    )
                )
                forms.append(([f"w:{s}" for s in shingles], math.ceil(0.75 * len(shingles)), False))
                continue
            if len(compact) > MAX_WINDOW_CHARS:
                raise TextBankError(f"{spelling[:40]!r}… is longer than {MAX_WINDOW_CHARS} letters")
            names = [compact]
            if identifier.kind == "name":
                names += _korean_name_spellings(compact)
                if 2 <= len(words) <= 3 and len(compact) > len(words):  # "Ji-eun Kim" as "Kim Ji-eun"
                    names.append("".join(words[-1:] + words[:-1]))
            elif identifier.kind == "place":
                names += _short_place_names(compact)
            forms += [([f"w:{n}"], 1, False) for n in dict.fromkeys(names)]
            if identifier.kind == "keyword":
                forms += _reworded_title(words)
    return forms


# How schools are usually shortened: 한빛고등학교 -> 한빛고, 한빛여자고등학교 -> 한빛여고.
_SHORT_PLACES: Final = (
    ("여자고등학교", "여고"), ("여자중학교", "여중"), ("여자대학교", "여대"), ("고등학교", "고"),
    ("중학교", "중"), ("초등학교", "초"), ("대학교", "대"), ("highschool", "high"),
    ("middleschool", "middle"), ("university", "univ"), ("highschool", "hs"), ("middleschool", "ms"),
    ("internationalschool", "intl"),
    ("internationalschool", "international"), ("international", "intl"), ("university", "uni"),
)  # fmt: skip


def _short_place_names(compact: str) -> list[str]:
    return [
        compact[: -len(long)] + short
        for long, short in _SHORT_PLACES
        if compact.endswith(long) and len(compact) > len(long)
    ]


def _reworded_title(words: list[str]) -> list[tuple[list[str], int, bool]]:
    """A title of four words or more with one word dropped or two neighbouring words swapped: its
    words one after another on the page (see :attr:`_Variant.chain`)."""
    distinct = list(dict.fromkeys(w for w in words if len(w) >= 2 and len(w) <= MAX_WINDOW_CHARS))
    if len(distinct) < 4 or len(distinct) != len([w for w in words if len(w) >= 2]):
        return []
    return [([f"w:{w}" for w in distinct], len(distinct) - 1, False)]


# From the start of a word only, and bounded: a page of "ooooo…" must cost linear time.
_PUNCTUATED = re.compile(r"(?<![\w.])[^\W_]{1,64}(?:[._]{1,3}[^\W_]{1,64}){1,8}")


def _handle_literal(text: str) -> str:
    norm, _pos = _normalised(text.strip())
    return norm.lstrip("@").strip()


def normalise_email(text: str) -> str:
    norm, _pos = _normalised(text)
    return norm.replace(" ", "").strip()


class TextBank:
    """Keyed hashes of the identifiers of consenting cases: what a text scan looks for.

    Holds no identifier in readable form.  Pickles as plain data (for process pools and
    Dask workers) and reads and writes the JSON Lines of ``haven text-bank``.
    """

    FORMAT: Final = "haven-text-bank"

    def __init__(
        self,
        key: bytes,
        entries: Iterable[_Entry],
        *,
        regions: Iterable[str] = (),
        min_kinds: dict[str, int] | None = None,
        lengths: Iterable[int] | None = None,
        lengths_unspaced: Iterable[int] | None = None,
    ) -> None:
        if len(key) < 16:
            raise TextBankError("a text bank's key must be at least 16 bytes")
        self.key = key
        self.entries: tuple[_Entry, ...] = tuple(entries)
        self.regions = tuple(sorted(set(regions)))
        self.min_kinds = dict(min_kinds or {})
        for case, n in self.min_kinds.items():
            if not 1 <= n <= len(IDENTIFIER_KINDS):
                raise TextBankError(f"case {case}: min_kinds must be 1 to {len(IDENTIFIER_KINDS)}")
        # The lengths of the windows worth hashing, apart for windows that begin in a script written
        # without spaces (a Korean page is mostly one-syllable tokens: it need not try the lengths of
        # romanised names).
        self.lengths = frozenset(lengths or ())
        self.lengths_unspaced = frozenset(lengths_unspaced or ())
        self._index: dict[bytes, list[tuple[int, int]]] = {}
        for e, entry in enumerate(self.entries):
            for v, variant in enumerate(entry.variants):
                for key_ in variant.keys:
                    self._index.setdefault(key_, []).append((e, v))
        self.wants_phones = any(k.kind == "phone" for k in self.entries)
        self.wants_emails = any(k.kind == "email" for k in self.entries)
        self.wants_handles = any(k.kind == "handle" for k in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"<TextBank of {len(self)} identifiers>"

    def __getstate__(self) -> dict[str, Any]:
        return self.as_state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            bytes.fromhex(state["key"]),
            _entries_of(state["entries"]),
            regions=state["regions"],
            min_kinds=state["min_kinds"],
            lengths=state["lengths"],
            lengths_unspaced=state["lengths_unspaced"],
        )

    @classmethod
    def build(
        cls,
        identifiers: Iterable[PersonalIdentifier],
        *,
        key: bytes | None = None,
        min_kinds: dict[str, int] | None = None,
        skipped: list[PersonalIdentifier] | None = None,
    ) -> TextBank:
        """Hash the identifiers with ``key`` (a new random one by default).  An identifier that
        cannot be used (a phone number that is none) raises :class:`TextBankError`; or, given a
        ``skipped`` list, is left out and appended to it."""
        key = key or secrets.token_bytes(32)
        entries = []
        lengths: set[int] = set()
        lengths_unspaced: set[int] = set()
        regions: set[str] = set()
        for ident in identifiers:
            try:
                if ident.kind not in IDENTIFIER_KINDS:
                    raise TextBankError(f"identifier {ident.id}: unknown kind {ident.kind!r}")
                forms = _forms(ident)
            except TextBankError:
                if skipped is None:
                    raise
                skipped.append(ident)
                continue
            variants = []
            for texts, need, weak in forms:
                for t in texts:
                    if t.startswith("w:"):
                        (lengths_unspaced if _unspaced(t[2]) else lengths).add(len(t) - 2)
                chain = ident.kind == "keyword" and len(texts) > 1 and need == len(texts) - 1
                variants.append(_Variant(tuple(_mac(key, t) for t in texts), need, weak, chain))
            if ident.kind == "phone":
                regions.add(ident.region)
            alone = default_alone(ident.kind, ident.value) if ident.alone is None else ident.alone
            entries.append(_Entry(ident.id, ident.case_id, ident.kind, alone, tuple(variants)))
        return cls(
            key,
            entries,
            regions=regions,
            min_kinds=min_kinds,
            lengths=lengths,
            lengths_unspaced=lengths_unspaced,
        )

    # -- file form -------------------------------------------------------------------------

    def as_state(self) -> dict[str, Any]:
        return {
            "key": self.key.hex(),
            "regions": list(self.regions),
            "min_kinds": self.min_kinds,
            "lengths": sorted(self.lengths),
            "lengths_unspaced": sorted(self.lengths_unspaced),
            "entries": [
                {
                    "id": e.id,
                    "case": e.case_id,
                    "kind": e.kind,
                    "alone": e.alone,
                    "variants": [
                        {"keys": [k.hex() for k in v.keys], "need": v.need, "weak": v.weak, "chain": v.chain}
                        for v in e.variants
                    ],
                }
                for e in self.entries
            ],
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        """JSON Lines: a header with the key, then one identifier a line (hashes only).  The
        file is created readable by its owner only."""
        state = self.as_state()
        fd = os.open(os.fspath(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            header = {k: state[k] for k in ("key", "regions", "min_kinds", "lengths", "lengths_unspaced")}
            out.write(json.dumps({"format": self.FORMAT, "version": 1, **header}) + "\n")
            for entry in state["entries"]:
                out.write(json.dumps(entry) + "\n")

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> TextBank:
        name = os.fspath(path)
        try:
            with open(name, encoding="utf-8") as handle:
                lines = [line for line in handle if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise TextBankError(
                f"cannot read the text bank {name}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        if not lines:
            raise TextBankError(f"{name} is empty: not a text bank")
        try:
            header = json.loads(lines[0])
            records = [json.loads(line) for line in lines[1:]]
        except json.JSONDecodeError:
            raise TextBankError(f"{name}: not JSON Lines") from None
        if not isinstance(header, dict) or header.get("format") != cls.FORMAT or header.get("version") != 1:
            raise TextBankError(f"{name}: not a text bank (its first line names no {cls.FORMAT} version 1)")
        try:
            return cls(
                bytes.fromhex(header["key"]),
                _entries_of(records),
                regions=[str(r) for r in header.get("regions", [])],
                min_kinds={str(k): int(v) for k, v in (header.get("min_kinds") or {}).items()},
                lengths=[int(n) for n in header.get("lengths", [])],
                lengths_unspaced=[int(n) for n in header.get("lengths_unspaced", [])],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, TextBankError):
                raise
            raise TextBankError(f"{name}: a malformed line ({type(exc).__name__}: {exc})") from None

    # -- matching ---------------------------------------------------------------------------

    def _found_keys(self, norm: str) -> dict[bytes, list[tuple[int, int]]]:
        """The bank keys present in the normalised text, with where."""
        found: dict[bytes, list[tuple[int, int]]] = {}
        index, key = self._index, self.key
        if self.lengths or self.lengths_unspaced:
            longest = {True: max(self.lengths_unspaced, default=0), False: max(self.lengths, default=0)}
            tokens = _tokens(norm)
            for i in range(len(tokens)):
                unspaced = _unspaced(tokens[i].text[0])
                lengths = self.lengths_unspaced if unspaced else self.lengths
                if not lengths:
                    continue
                joined = ""
                for j in range(i, min(len(tokens), i + MAX_WINDOW_TOKENS)):
                    joined += tokens[j].text
                    if len(joined) > longest[unspaced]:
                        break
                    if len(joined) in lengths:
                        mac = _mac(key, "w:" + joined)
                        if mac in index:
                            found.setdefault(mac, []).append((tokens[i].start, tokens[j].end))
        if self.wants_phones:
            for text, span in _phone_texts(norm, self.regions):
                mac = _mac(key, text)
                if mac in index:
                    found.setdefault(mac, []).append(span)
        if self.wants_handles:
            for m in _PUNCTUATED.finditer(norm):
                mac = _mac(key, "h:" + m.group())
                if mac in index:
                    found.setdefault(mac, []).append(m.span())
        if self.wants_emails:
            for text, span in _emails(norm):
                mac = _mac(key, "e:" + text)
                if mac in index:
                    found.setdefault(mac, []).append(span)
        return found

    def match(self, text: str) -> list[TextMatch]:
        """The cases whose identifiers this text holds as the cases' rules require, one match a case."""
        text = text[:MAX_TEXT_CHARS]
        norm, pos = _normalised(text)
        found = self._found_keys(norm)
        if not found:
            return []
        hits: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for mac, spans in found.items():
            for e, v in self._index[mac]:
                hits.setdefault((e, v), []).extend(spans)
        # case -> identifier -> (kind, enough alone, spans, found only as a reworded title)
        by_case: dict[str, dict[str, tuple[str, bool, list[tuple[int, int]], bool]]] = {}
        for (e, v), spans in sorted(hits.items()):
            entry, variant = self.entries[e], self.entries[e].variants[v]
            present = {m for m in variant.keys if m in found}
            if len(present) < variant.need:
                continue
            if variant.chain:
                spans = _in_order(variant.keys, found, variant.need)
                if not spans:
                    continue
            else:
                spans = sorted({s for m in present for s in found[m]})
            strong = entry.alone and not variant.weak
            reworded = variant.chain or variant.need < len(variant.keys)  # found approximately
            old = by_case.setdefault(entry.case_id, {}).get(entry.id)
            if old is not None:
                strong = strong or old[1]
                spans = sorted(set(old[2]) | set(spans))
                reworded = reworded and old[3]
            by_case[entry.case_id][entry.id] = (entry.kind, strong, spans, reworded)
        _drop_titles_of_others(by_case)
        out = []
        for case_id, idents in sorted(by_case.items()):
            if not idents:
                continue
            kinds = {kind for kind, _s, _sp, _r in idents.values()}
            strong = any(s for _k, s, _sp, _r in idents.values())
            if not strong and len(_distinct_kinds(idents)) < self.min_kinds.get(case_id, 2):
                continue
            spans = sorted({s for _k, _s, sp, _r in idents.values() for s in sp})
            original = [(pos[a], pos[b - 1] + 1) for a, b in spans]
            out.append(
                TextMatch(
                    case_id=case_id,
                    identifiers=tuple(sorted((i, k) for i, (k, _s, _sp, _r) in idents.items())),
                    kinds=tuple(sorted(kinds)),
                    spans=tuple(original),
                    snippet=_snippet(text, original),
                )
            )
        return out


_CHAIN_GAP: Final = 3
"""Characters between two words of a title on the page: a space, a comma, a particle (사진을 풉니다)."""


def _distinct_kinds(idents: dict[str, tuple[str, bool, list[tuple[int, int]], bool]]) -> set[str]:
    """The kinds found in different places of the text: "Chloe Fisher" read as her name and as her
    handle "chloe_fisher" is one piece of evidence, not two."""
    counted: list[tuple[int, int]] = []
    kinds: set[str] = set()
    for kind, _strong, spans, _r in sorted(idents.values(), key=lambda v: (len(v[2]), v[0])):
        if kind in kinds:
            counted += spans
            continue
        if any(not any(a < d and c < b for c, d in counted) for a, b in spans):
            kinds.add(kind)
            counted += spans
    return kinds


def _drop_titles_of_others(
    by_case: dict[str, dict[str, tuple[str, bool, list[tuple[int, int]], bool]]],
) -> None:
    """A title found only reworded (a word dropped) where the page shows another case's title as it
    was recorded is that other title: formulaic titles ("신촌 카페 알바생 사진 공유합니다", "대구 카페 …")
    differ by one word."""
    exact = {
        case: [
            span
            for kind, _s, spans, reworded in idents.values()
            if kind == "keyword" and not reworded
            for span in spans
        ]
        for case, idents in by_case.items()
    }
    for case, idents in by_case.items():
        others = [span for other, spans in exact.items() if other != case for span in spans]
        if not others:
            continue
        for ident, (_kind, _strong, spans, reworded) in list(idents.items()):
            if reworded and any(a < d and c < b for a, b in spans for c, d in others):
                del idents[ident]


def _in_order(
    keys: tuple[bytes, ...], found: dict[bytes, list[tuple[int, int]]], need: int
) -> list[tuple[int, int]]:
    """Where a run of a title's words follows one another on the page in the title's order, with one
    word dropped or two neighbours swapped (``need`` words or more); empty if nowhere."""
    places = sorted((a, b, i) for i, k in enumerate(keys) for a, b in found.get(k, ()))
    for first in range(len(places)):
        run = [places[first]]
        for place in places[first + 1 :]:
            gap = place[0] - run[-1][1]
            if gap > _CHAIN_GAP:
                break
            if gap >= 0:
                run.append(place)
        order = [i for _a, _b, i in run]
        if len(order) >= need and _nearly_in_order(order, len(keys)):
            return [(a, b) for a, b, _i in run]
    return []


def _nearly_in_order(order: list[int], n: int) -> bool:
    if len(set(order)) != len(order):
        return False
    whole = list(range(n))
    if len(order) == n - 1:
        return any(order == whole[:k] + whole[k + 1 :] for k in range(n))
    if len(order) == n:
        return order == whole or any(order == [*whole[:k], k + 1, k, *whole[k + 2 :]] for k in range(n - 1))
    return False


def _entries_of(records: Sequence[Any]) -> Iterator[_Entry]:
    for r in records:
        if not isinstance(r, dict):
            raise TextBankError("a text bank line is not a JSON object")
        kind = str(r["kind"])
        if kind not in IDENTIFIER_KINDS:
            raise TextBankError(f"identifier {r.get('id')}: unknown kind {kind!r}")
        variants = []
        for v in r["variants"]:
            keys = tuple(bytes.fromhex(k) for k in v["keys"])
            if not keys or any(len(k) != _DIGEST_BYTES for k in keys):
                raise TextBankError(f"identifier {r.get('id')}: keys must be {_DIGEST_BYTES * 2} hex digits")
            need = int(v["need"])
            if not 1 <= need <= len(keys):
                raise TextBankError(f"identifier {r.get('id')}: need must be 1 to {len(keys)}")
            variants.append(_Variant(keys, need, bool(v.get("weak", False)), bool(v.get("chain", False))))
        yield _Entry(str(r["id"]), str(r["case"]), kind, bool(r["alone"]), tuple(variants))


# -- phones and e-mail addresses in text --------------------------------------------------------

_KO_DIGITS: Final = {
    "공": "0", "영": "0", "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5", "육": "6", "륙": "6",
    "칠": "7", "팔": "8", "구": "9",
}  # fmt: skip
_AS_DIGIT: Final = {"o": "0", "l": "1", "i": "1", **_KO_DIGITS}
_MASKS: Final = frozenset("x*●○■□?#")
_DIGITLIKE = "0-9oli공영일이삼사오육륙칠팔구x*●○■□?#"
_DIGIT_START = "0-9oli공영일이삼사오육륙칠팔구"
# Separators people put between digit groups; "ㅡ" (a Hangul vowel drawn as a dash) as NFKD leaves it.
_PHONE_SEPARATORS = " \\-.()/_·~\u2010-\u2015\u2212\u1173♡♥*"
_PHONE_RUN = re.compile(rf"\+?[{_DIGIT_START}](?:[{_DIGITLIKE}]|[{_PHONE_SEPARATORS}]){{6,}}")


def _digits_of(text: str) -> str:
    return "".join(_AS_DIGIT.get(c, c) for c in text if c.isdigit() or c in _AS_DIGIT or c == "+")


_ASCII_PHONE = re.compile(r"\+?[\doli][\doli \-.()/_~·\u2010-\u2015\u2212\u1173♡♥]{5,22}[\doli]")
_PHONE_TRAILING = " -.()/_·~\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u1173♡♥"
_LONGEST_RUN = 40
_JUNK_RUN = 200
_MAX_PARSES = 2000


def _phone_texts(norm: str, regions: Sequence[str]) -> Iterator[tuple[str, tuple[int, int]]]:
    import phonenumbers

    parses = 0
    for m in _PHONE_RUN.finditer(norm):
        run = m.group().rstrip(_PHONE_TRAILING)
        if len(run) > _JUNK_RUN or parses > _MAX_PARSES:
            continue  # a wall of digits is not a number anyone reads; and a page's cost is bounded
        # The run as a whole (digit words, stand-in letters, masks), its runs of plain digits, and its
        # space-separated parts taken a few at a time: a number next to noise that passes for digits
        # ("lol 010-…", "??? 010-…", "번호는 이 010-사구삼구-팔사일칠", where 이 is also the word for 2)
        # is one of those.
        pieces = [(run, 0)] if len(run) <= _LONGEST_RUN else []
        # A particle glued on ("…오육칠팔이래": 이 is also 2) or a word before: a syllable off each end.
        for cut_start, cut_end in ((0, 1), (1, 0), (1, 1), (0, 2)):
            inner = run[cut_start : len(run) - cut_end]
            ends = run[:cut_start] + run[len(run) - cut_end :]
            if 7 <= len(inner) <= _LONGEST_RUN and all(c in _KO_DIGITS for c in ends):
                pieces.append((inner.strip(), cut_start + (len(inner) - len(inner.lstrip()))))
        pieces += [(p.group(), p.start()) for p in _ASCII_PHONE.finditer(run) if p.group() != run]
        parts = [(p.group(), p.start()) for p in re.finditer(r"\S+", run)]
        if len(parts) > 1:
            for i in range(len(parts)):
                for j in range(i, min(len(parts), i + 4)):
                    start, end = parts[i][1], parts[j][1] + len(parts[j][0])
                    if (i, j) != (0, len(parts) - 1) and end - start <= _LONGEST_RUN:
                        pieces.append((run[start:end], start))
        seen: set[str] = set()
        for piece, offset in pieces:
            span = (m.start() + offset, m.start() + offset + len(piece))
            real = sum(1 for c in piece if c.isdigit() or c in _KO_DIGITS)
            masks = sum(1 for c in piece if c in _MASKS)
            if 3 <= masks <= 8 and real >= 5:
                chars = "".join(
                    "*" if c in _MASKS else _AS_DIGIT.get(c, c)
                    for c in piece
                    if c.isdigit() or c in _AS_DIGIT or c in _MASKS
                )
                for region in regions:
                    code = str(phonenumbers.country_code_for_region(region))
                    if piece.startswith("+" + code):
                        chars = "0" + chars[len(code) :]
                yield "m:" + chars, span
            if real < 7:
                continue
            digits = _digits_of(piece)
            parses += 1
            for region in regions or ("ZZ",):
                try:
                    number = phonenumbers.parse(digits, region)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_possible_number(number):
                    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                    if e164 not in seen:
                        seen.add(e164)
                        yield "p:" + e164, span


_AT = r"(?:\s*@\s*|\s*[\[({<]\s*(?:at|골뱅이|@)\s*[\])}>]\s*|\s+(?:at|골뱅이)\s+)"
_DOT = r"(?:\s*\.\s*|\s*[\[({<]\s*(?:dot|점|닷|쩜)\s*[\])}>]\s*|\s+(?:dot|점|쩜)\s+|\s*닷\s*)"
# "naver닷컴": the top-level domain said in Korean.
_TLD_WORDS: Final = {"컴": "com", "넷": "net", "넷트": "net", "오알지": "org", "케이알": "kr"}
# Bounded like real addresses (64-character local part, 63-character labels, ten labels), so that a
# hostile page of "a.a.a.a…" costs linear time.
_EMAIL_IN_TEXT = re.compile(
    rf"[a-z0-9._%+\-]{{1,64}}{_AT}[a-z0-9\-]{{1,63}}(?:{_DOT}[a-z0-9\-]{{1,63}}){{0,8}}{_DOT}"
    rf"(?:[a-z]{{2,24}}(?![a-z0-9])|컴|넷트|넷|오알지|케이알)"
)
# Plain addresses are read first: "email her at jieun.kim@…" must not be read as "her at jieun.kim".
_PLAIN_EMAIL = re.compile(
    r"(?<![a-z0-9._%+\-])[a-z0-9._%+\-]{1,64}@[a-z0-9\-]{1,63}(?:\.[a-z0-9\-]{1,63}){0,8}\.[a-z]{2,24}(?![a-z0-9])"
)
_EMAIL_FROM_EACH_WORD = re.compile(rf"(?<![a-z0-9._%+\-])(?=({_EMAIL_IN_TEXT.pattern}))")
_AT_RE = re.compile(_AT)
_DOT_RE = re.compile(_DOT)


def _email_of(text: str) -> str:
    local, domain = _AT_RE.split(text, maxsplit=1)
    return local + "@" + ".".join(_TLD_WORDS.get(p, p) for p in _DOT_RE.split(domain) if p)


def _emails(norm: str) -> Iterator[tuple[str, tuple[int, int]]]:
    """Addresses in the text: plain ones, and disguised ones tried from every word, so that "her at
    jieun.kim @ naver.com" yields "jieun.kim@naver.com" as well as the "her@jieun.kim" it begins with."""
    for m in _PLAIN_EMAIL.finditer(norm):
        yield _email_of(m.group()), m.span()
    for m in _EMAIL_FROM_EACH_WORD.finditer(norm):
        yield _email_of(m.group(1)), m.span(1)


# -- what a text scan finds ----------------------------------------------------------------------


def _snippet(text: str, spans: Sequence[tuple[int, int]]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The text around the first matches, with the matches' places in it (to mask them)."""
    first = spans[0][0]
    start = max(0, first - SNIPPET_CONTEXT)
    end = min(len(text), max(b for a, b in spans if a < first + 2 * SNIPPET_CONTEXT) + SNIPPET_CONTEXT)
    inside = tuple((a - start, b - start) for a, b in spans if a >= start and b <= end)
    return text[start:end], inside


def mask(snippet: str, spans: Iterable[Sequence[int]], *, hidden: str = "●●●") -> str:
    """The snippet with each identifier in it replaced by ``hidden``."""
    merged: list[list[int]] = []
    for a, b in sorted((int(s[0]), int(s[1])) for s in spans):
        if not 0 <= a < b <= len(snippet):
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out, at = [], 0
    for a, b in merged:
        out += [snippet[at:a], hidden]
        at = b
    out.append(snippet[at:])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class TextMatch:
    """A case whose identifiers a text holds."""

    case_id: str
    identifiers: tuple[tuple[str, str], ...]
    """(identifier id, kind) of each identifier found."""
    kinds: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    """Where in the text (character offsets)."""
    snippet: tuple[str, tuple[tuple[int, int], ...]]
    """Some text around the matches, and where the matches are in it."""


@dataclass(frozen=True, slots=True)
class TextCandidate:
    """A page whose text holds a case's identifiers: a lead for a person to review."""

    page_url: str
    case_id: str
    identifiers: tuple[tuple[str, str], ...]
    kinds: tuple[str, ...]
    snippet: str
    spans: tuple[tuple[int, int], ...]
    found_at: datetime
    text_sha256: str = ""

    def as_record(self) -> dict[str, Any]:
        """The JSON Lines form written by ``haven scan --text-bank`` (identifiers masked)."""
        return {
            "type": "text",
            "page_url": self.page_url,
            "case_id": self.case_id,
            "identifiers": [i for i, _k in self.identifiers],
            "kinds": list(self.kinds),
            "snippet": mask(self.snippet, self.spans),
            "found_at": self.found_at.isoformat(),
            "text_sha256": self.text_sha256,
        }

    def sort_key(self) -> tuple[str, str]:
        return (self.page_url, self.case_id)
