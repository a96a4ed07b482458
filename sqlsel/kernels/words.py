"""The words and sentences datatrove's English quality filters see, without spaCy.

datatrove 0.10.1's ``split_into_words(text, "eng")`` and ``split_into_sentences`` load a
``SpaCyTokenizer("en")`` (``datatrove/assets/tokenizer_assignment.csv``): ``spacy.blank("en")`` with a
``sentencizer``, its tokens stripped and the blank ones dropped. NLTK is not used for English. This
module ports spaCy 3.8's tokenizer loop (``Tokenizer._tokenize_affixes``, ``_split_affixes``,
``_attach_tokens`` and the special-case matcher) and the rule-based sentencizer to plain Python,
with English's rules (prefix, suffix, infix and URL patterns, 1,347 special cases, the
sentencizer's punctuation) read from ``quality_data.json``, which :func:`regenerate` writes from an
installed spaCy (MIT licence) and datatrove (Apache-2.0, for its punctuation sets).

Why not spaCy itself: it is a large dependency, and a spaCy ``Doc`` per text costs more than the
filters' arithmetic; here each distinct whitespace-separated chunk is tokenized once and cached, so
a corpus costs a ``str.split`` and a dict lookup per chunk.

>>> t = EnglishWords()
>>> t.words("Don't panic: (e.g. see http://x.org/a?b=1).")
['Do', "n't", 'panic', ':', '(', 'e.g.', 'see', 'http://x.org/a?b=1', ')', '.']
>>> t.sentence_count("It works. Really! see e.g. this")
3
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Callable
from functools import cache
from itertools import chain
from pathlib import Path
from re import _constants as _c
from re import _parser

__all__ = ["EnglishWords", "english_words", "rules", "regenerate"]

DATA = Path(__file__).with_name("quality_data.json")
#: Distinct chunks kept tokenized before the cache is emptied (bounded memory on any corpus).
CACHE_LIMIT = 500_000
_SPANS = re.compile(r"\s+|\S+")
_CATEGORIES = {
    _c.CATEGORY_DIGIT: r"\d",
    _c.CATEGORY_NOT_DIGIT: r"\D",
    _c.CATEGORY_SPACE: r"\s",
    _c.CATEGORY_NOT_SPACE: r"\S",
    _c.CATEGORY_WORD: r"\w",
    _c.CATEGORY_NOT_WORD: r"\W",
}


def _char_class(op, av) -> str | None:
    """A one-character regex matching what the consuming element (op, av) can match (None: not known)."""
    if op is _c.LITERAL:
        return "[" + re.escape(chr(av)) + "]"
    if op is _c.NOT_LITERAL:
        return "[^" + re.escape(chr(av)) + "]"
    if op is _c.ANY:
        return r"[\s\S]"
    parts = []
    for item, value in av:  # op is IN
        if item is _c.NEGATE:
            parts.insert(0, "^")
        elif item is _c.LITERAL:
            parts.append(re.escape(chr(value)))
        elif item is _c.RANGE:
            parts.append(re.escape(chr(value[0])) + "-" + re.escape(chr(value[1])))
        elif item is _c.CATEGORY and value in _CATEGORIES:
            parts.append(_CATEGORIES[value])
        else:
            return None
    return "[" + "".join(parts) + "]"


def _edge(items, last: bool) -> tuple[set[str] | None, bool]:
    """Classes of the characters a match of ``items`` can start (``last``: end) with, and whether it can be empty.

    None when the pattern holds something not analysed here (the caller then always runs the regex).
    """
    out: set[str] = set()
    for op, av in reversed(items) if last else items:
        if op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):  # zero-width
            continue
        if op in (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN):
            cls = _char_class(op, av)
            if cls is None:
                return None, False
            out.add(cls)
            return out, False
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
            lo, sub = av[0], list(av[2])
        elif op is _c.SUBPATTERN and not av[1] & re.IGNORECASE:
            lo, sub = 1, list(av[3])
        elif op is _c.ATOMIC_GROUP:
            lo, sub = 1, list(av)
        elif op is _c.BRANCH:
            lo, sub = 1, None
        else:
            return None, False
        branches = [list(b) for b in av[1]] if sub is None else [sub]
        nullable = lo == 0
        for branch in branches:
            classes, empty = _edge(branch, last)
            if classes is None:
                return None, False
            out |= classes
            nullable = nullable or empty
        if not nullable:
            return out, False
    return out, True


def _edge_regex(pattern: str, last: bool) -> re.Pattern | None:
    """A one-character regex for what a match of ``pattern`` can start (``last``: end) with; None if not known.

    Exact as a filter: where it does not match a character, no match of ``pattern`` can start
    (end) with that character, so the pattern itself need not be run.
    """
    parsed = _parser.parse(pattern)
    if parsed.state.flags & (re.IGNORECASE | re.LOCALE):
        return None
    classes, empty = _edge(list(parsed), last)
    if classes is None or empty:
        return None
    return re.compile("|".join(sorted(classes)))


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex's source (the whole pattern if it sets global flags)."""
    if pattern.startswith("(?") and re.match(r"\(\?[a-zA-Z]+\)", pattern):
        return [pattern]
    out, start, depth, i, n = [], 0, 0, 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 1
        elif ch == "[":  # a class: skip to its closing bracket (a first "]" or "^]" is literal)
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


def _suffix_window(pattern: str) -> int:
    """How many final characters a suffix search needs to look at (see ``_find_suffix``).

    One more than the longest bounded alternative; an unbounded one must be a run of one character
    ("\\.\\.+$"), whose match, if it starts before the window, also starts at its edge. Otherwise
    (spaCy's patterns changed shape) the whole chunk is searched.
    """
    parsed = _parser.parse(pattern)
    branches = parsed[0][1][1] if len(parsed) == 1 and parsed[0][0] is _c.BRANCH else [parsed]
    longest = 0
    for branch in branches:
        items = list(branch)
        low, high = _parser.SubPattern(parsed.state, items).getwidth()
        if high < _c.MAXREPEAT:
            longest = max(longest, high)
        elif not (
            len(items) == 3
            and items[0][0] is _c.LITERAL
            and items[1][0] is _c.MAX_REPEAT
            and items[1][1][:2] == (1, _c.MAXREPEAT)
            and list(items[1][1][2]) == [items[0]]
            and items[2] == (_c.AT, _c.AT_END)
        ):
            return 1 << 30
    return max(longest + 1, 2)


def _edges(pattern: str, last: bool) -> list[tuple[str, _CharTest, bool]]:
    """Per top-level alternative of an affix pattern: its source, the test of the characters its
    match can start (``last``: end) with, and whether its match is that one character and nothing
    else is checked. If one of them is not understood or can match the empty string: the whole
    pattern, with a test passing every character.
    """
    out = []
    for alt in _alternatives(pattern):
        parsed = list(_parser.parse(alt))
        edge = _edge_regex(alt, last)
        if edge is None:
            return [(pattern, _CharTest(None), False)]
        consuming = [(op, av) for op, av in parsed if op is not _c.AT]
        single = (
            len(consuming) == 1
            and consuming[0][0] in (_c.LITERAL, _c.IN)
            and all(av in (_c.AT_BEGINNING, _c.AT_END) for op, av in parsed if op is _c.AT)
        )
        out.append((alt, _CharTest(edge), single))
    return out


def _affix_rule(alternatives: list[tuple[str, _CharTest, bool]], ch: str, length: Callable) -> int | Callable:
    """For a chunk whose edge character is ``ch``: 0 if no alternative can match there, 1 if each
    that can is that one character alone, else ``length(search)`` with the search of those (in
    their order: the same leftmost match as the whole pattern's)."""
    can = [(alt, single) for alt, edge, single in alternatives if edge[ch]]
    if not can:
        return 0
    if all(single for _, single in can):
        return 1
    return length(re.compile("|".join(alt for alt, _ in can)).search)


def _prefix_length(search: Callable) -> Callable[[str], int]:
    def length(s: str) -> int:
        m = search(s)
        return m.end() - m.start() if m is not None else 0

    return length


class _CharTest(dict):
    """``test[ch]``: does the one-character regex match ``ch`` (True for every ``ch`` without one); remembered."""

    def __init__(self, regex: re.Pattern | None) -> None:
        super().__init__()
        self._match = regex.fullmatch if regex is not None else None

    def __missing__(self, ch: str) -> bool:
        value = self[ch] = self._match is None or self._match(ch) is not None
        return value


@cache
def rules() -> dict:
    """The tokenizer rules and punctuation sets in ``quality_data.json``."""
    return json.loads(DATA.read_text(encoding="utf-8"))


class EnglishWords:
    """spaCy's blank English tokenizer and sentencizer, as datatrove 0.10.1 uses them."""

    def __init__(self) -> None:
        data = rules()
        self._suffix = re.compile(data["suffix"]).search
        infix = re.compile(data["infix"])
        self._infix_match = infix.match
        self._url = re.compile(data["url"]).match
        # Cheap exact shortcuts past regexes that cannot match (see _edges, _edge_regex, _needs) ...
        self._suffix_window = _suffix_window(data["suffix"])
        self._empty_affix = _prefix_length(re.compile(data["prefix"]).search)(""), _prefix_length(self._suffix)("")
        # ... and per first (last) character: the length of the prefix (suffix) a chunk starting (ending) with
        # it has, 0 or 1 where that does not depend on the rest, else a function finding it with the
        # patterns that can match there (see _affix_rule); $ also matches before a final newline
        self._prefix_alternatives = _edges(data["prefix"], last=False)
        self._suffix_alternatives = _edges(data["suffix"], last=True)
        self._prefix_for: dict[str, int | Callable[[str], int]] = {}
        self._suffix_for: dict[str, int | Callable[[str], int]] = {"\n": self._suffix_length(self._suffix)}
        infix_starts = _edge_regex(data["infix"], last=False)
        self._infix_start = infix_starts.search if infix_starts is not None else None
        self._infix = infix.finditer if infix_starts is None else self._infix_finditer
        self._url_needs_dot = _needs(list(_parser.parse(data["url"])), ".")
        self._specials: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in data["rules"].items()}
        self._punct_chars = frozenset(data["punct_chars"])
        self._cache: dict[str, tuple[str, ...]] = _Chunks(self)
        self._raw: dict[str, tuple[str, ...]] = {}
        # spaCy's _special_matcher: special cases holding affixes are also looked for across the tokens
        # that affix splitting made (e.g. "10a.m.," split as "10a.m", ".", "," becomes "10", "a.m.", ",")
        self._patterns: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        changing: set[tuple[str, ...]] = set()
        for string, tokens in self._specials.items():
            if self._find_prefix(string) or self._find_suffix(string) or any(self._infix(string)) or " " in string:
                plain = tuple(self._tokens(string, specials=False))
                self._patterns.setdefault(plain[0], []).append((plain, string))
                if plain != tokens:
                    changing.add(plain[:2])
        # a match that leaves the texts as they were changes nothing but may block an overlapping one;
        # a chunk is matched only if it holds the first two tokens of a pattern that changes texts
        if any(len(first) < 2 for first in changing):
            raise RuntimeError("a one-token special case changes its text: port spaCy's matcher again")
        self._changing_pairs = frozenset(changing)

    # -- spaCy's tokenizer ------------------------------------------------------------------------
    def _find_prefix(self, s: str) -> int:
        """The length of the prefix spaCy splits off ``s`` (0: none)."""
        if not s:
            return self._empty_affix[0]
        rule = self._prefix_for.get(s[0])
        if rule is None:
            rule = self._prefix_for[s[0]] = _affix_rule(self._prefix_alternatives, s[0], _prefix_length)
        return rule if rule.__class__ is int else rule(s)

    def _find_suffix(self, s: str) -> int:
        """The length of the suffix spaCy splits off ``s`` (0: none)."""
        if not s:
            return self._empty_affix[1]
        rule = self._suffix_for.get(s[-1])
        if rule is None:
            rule = self._suffix_for[s[-1]] = _affix_rule(self._suffix_alternatives, s[-1], self._suffix_length)
        return rule if rule.__class__ is int else rule(s)

    def _suffix_length(self, search: Callable) -> Callable[[str], int]:
        # Every suffix pattern ends in $ and all but "\.\.+$" are at most a few characters long, so
        # a search of the last _suffix_window characters (lookbehinds still see the ones before)
        # finds the same match, unless it starts at the window's edge (a run of dots): then search
        # it all.
        window = self._suffix_window

        def length(s: str) -> int:
            pos = len(s) - window
            if pos <= 0:
                m = search(s)
            else:
                m = search(s, pos)
                if m is not None and m.start() == pos:
                    m = search(s)
            return m.end() - m.start() if m is not None else 0

        return length

    def _infix_finditer(self, string: str):
        """``infix.finditer(string)``, trying the pattern only where a match can start (no match is empty)."""
        start, match = self._infix_start, self._infix_match
        pos = 0
        while (candidate := start(string, pos)) is not None:
            m = match(string, candidate.start())
            if m is None:
                pos = candidate.start() + 1
            else:
                yield m
                pos = m.end()

    def _chunk(self, span: str, specials: bool = True) -> tuple[str, ...]:
        """The tokens of one whitespace-free (or all-whitespace) span, cached."""
        if specials:
            hit = self._specials.get(span)
            if hit is not None:
                return hit
            hit = self._cache.get(span)
            if hit is not None:
                return hit
        prefixes: list[str] = []
        suffixes: list[str] = []
        string = span
        last = 0
        sp = self._specials if specials else {}
        while string and len(string) != last:
            if string in sp or _plain(string):
                break
            last = len(string)
            pre = self._find_prefix(string)
            if pre:
                prefix, minus_pre = string[:pre], string[pre:]
                if minus_pre and minus_pre in sp:
                    string = minus_pre
                    prefixes.append(prefix)
                    break
            suf = self._find_suffix(string[pre:])
            if suf:
                suffix, minus_suf = string[-suf:], string[:-suf]
                if minus_suf and minus_suf in sp:
                    string = minus_suf
                    suffixes.append(suffix)
                    break
            if pre and suf and pre + suf <= len(string):
                string = string[pre:-suf]
                prefixes.append(prefix)
                suffixes.append(suffix)
            elif pre:
                string = minus_pre
                prefixes.append(prefix)
            elif suf:
                string = minus_suf
                suffixes.append(suffix)
        out = prefixes
        if string:
            # spaCy's cache holds a chunk's tokens before its special-case matcher: the ones _raw keeps
            # where the matcher changed them (":o" cached as ":", "o" makes "0.o:o)" "0.o", ":o)")
            hit = (sp.get(string) or self._raw.get(string) or self._cache.get(string)) if specials else None
            if hit is not None:
                out.extend(hit)
            elif _plain(string) or (self._infix_start is not None and self._infix_start(string) is None):
                out.append(string)  # no infix splits it, so it is one token whether or not it is a URL
            elif ("." in string or not self._url_needs_dot) and self._url(string):
                out.append(string)
            else:
                start = 0
                for m in self._infix(string):
                    a, b = m.start(), m.end()
                    if a == 0:  # spaCy skips an infix at the very start
                        continue
                    if a != start:
                        out.append(string[start:a])
                    if a != b:
                        out.append(string[a:b])
                    start = b
                if string[start:]:
                    out.append(string[start:])
        out.extend(reversed(suffixes))
        if specials and len(out) > 1 and not self._changing_pairs.isdisjoint(zip(out, out[1:], strict=False)):
            matched = self._matched(out)
            if matched != out:
                self._raw[span] = tuple(out)
                out = matched
        result = tuple(out)
        if specials:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
                self._raw.clear()
            self._cache[span] = result
        return result

    def _tokens(self, text: str, specials: bool = True) -> list[str]:
        """Every token, whitespace tokens included, before the special-case matcher."""
        out: list[str] = []
        previous_text = False
        for m in _SPANS.finditer(text):
            span = m.group()
            if span[0].isspace():
                if previous_text and span[0] == " ":
                    span = span[1:]  # one space after a token is its trailing whitespace, not a token
                previous_text = False
                if not span:
                    continue
            else:
                previous_text = True
            out.extend(self._chunk(span, specials))
        return out

    def _matched(self, tokens: list[str]) -> list[str]:
        """spaCy's ``_apply_special_cases`` within one chunk: longest matches first, none overlapping.

        spaCy matches across whitespace too, but then looks the match's text (spaces included) up
        among the special cases, finds nothing and leaves the tokens alone: only matches inside one
        whitespace-free chunk change anything. (Such a no-op match can still block an overlapping
        match inside a chunk; that is not reproduced.)
        """
        matches = []
        for i, tok in enumerate(tokens):
            for plain, string in self._patterns.get(tok, ()):
                if tuple(tokens[i : i + len(plain)]) == plain:
                    matches.append((len(plain), -i, string))
        if not matches:
            return tokens
        matches.sort()  # taken longest first, then leftmost first
        seen: set[int] = set()
        chosen = {}
        for length, negative_start, string in reversed(matches):
            start = -negative_start
            if start not in seen and start + length - 1 not in seen:
                chosen[start] = (length, string)
            seen.update(range(start, start + length))
        out: list[str] = []
        i = 0
        while i < len(tokens):
            if i in chosen:
                length, string = chosen[i]
                out.extend(self._specials[string])
                i += length
            else:
                out.append(tokens[i])
                i += 1
        return out

    def all_tokens(self, text: str) -> list[str]:
        """spaCy's token texts for ``text``, whitespace tokens included."""
        return self._tokens(text)

    def chunk(self, chunk: str) -> tuple[str, ...]:
        """The tokens of one whitespace-free chunk of a text (cached)."""
        return self._cache[chunk]

    def words(self, text: str) -> list[str]:
        """``datatrove.utils.text.split_into_words(text)`` for English: the non-blank spaCy tokens."""
        return list(chain.from_iterable(map(self._cache.__getitem__, text.split())))

    def sentence_count(self, text: str) -> int:
        """How many parts ``split_into_sentences(text)`` gives: spaCy's sentencizer's sentences (at least 1)."""
        count = 1
        seen_period = False
        punct = self._punct_chars
        for tok in self.all_tokens(text):
            in_punct = tok in punct
            if seen_period and not in_punct and not _is_punct(tok):
                count += 1
                seen_period = False
            elif in_punct:
                seen_period = True
        return count


class _Chunks(dict):
    """chunk -> its tokens; a chunk not seen yet is tokenized (and kept) on lookup."""

    def __init__(self, tokenizer: EnglishWords) -> None:
        super().__init__()
        self._tokenize = tokenizer._chunk

    def __missing__(self, chunk: str) -> tuple[str, ...]:
        value = self[chunk] = self._tokenize(chunk)
        return value


def _plain(s: str) -> bool:
    """A chunk no English prefix, suffix or infix splits: ASCII letters and digits, not ending in letters after a digit.

    (Every prefix and infix pattern needs a character other than an ASCII letter or digit; among the
    suffixes only the units after a digit, e.g. "10km", consist of letters. Checked by
    ``test_plain_chunks_match_no_affix``.)
    """
    return s.isascii() and s.isalnum() and (s[-1].isdigit() or s.isalpha())


def _needs(items, ch: str) -> bool:
    """Does every match of the parsed ``items`` consume the character ``ch``?"""
    for op, av in items:
        if op is _c.LITERAL and av == ord(ch):
            return True
        if op is _c.IN and av == [(_c.LITERAL, ord(ch))]:
            return True
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT) and av[0] > 0 and _needs(list(av[2]), ch):
            return True
        if op is _c.SUBPATTERN and _needs(list(av[3]), ch):
            return True
        if op is _c.BRANCH and all(_needs(list(b), ch) for b in av[1]):
            return True
    return False


def _is_punct(text: str) -> bool:
    """spaCy's ``is_punct`` lexical attribute: every character in a Unicode P* category."""
    return all(unicodedata.category(c)[0] == "P" for c in text)


_shared: list[EnglishWords] = []
_shared_lock = threading.Lock()


def english_words() -> EnglishWords:
    """The process's tokenizer, shared by every thread (DuckDB calls functions from several).

    Its cache is a plain dict: lookups and inserts are atomic under the GIL, and whichever thread
    tokenizes a chunk first stores the same tokens another would, so warm-up is paid once.
    """
    if not _shared:
        with _shared_lock:
            if not _shared:
                _shared.append(EnglishWords())
    return _shared[0]


def regenerate(path: Path = DATA) -> None:  # pragma: no cover - needs spaCy and datatrove
    """Write ``quality_data.json`` from the installed spaCy (blank "en") and datatrove.

    Run after upgrading either, then rerun ``tests/test_quality_filters.py``:
    ``python -c "from sqlsel.kernels.words import regenerate; regenerate()"``.
    """
    import datatrove
    import spacy
    from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION
    from spacy.attrs import ORTH
    from spacy.pipeline.sentencizer import Sentencizer

    tokenizer = spacy.blank("en").tokenizer
    if tokenizer.token_match is not None or not tokenizer.faster_heuristics:
        raise RuntimeError("spaCy's English tokenizer changed shape (token_match, faster_heuristics): port it again")
    data = {
        "spacy_version": spacy.__version__,
        "datatrove_version": datatrove.__version__ if hasattr(datatrove, "__version__") else "",
        "prefix": tokenizer.prefix_search.__self__.pattern,
        "suffix": tokenizer.suffix_search.__self__.pattern,
        "infix": tokenizer.infix_finditer.__self__.pattern,
        "url": tokenizer.url_match.__self__.pattern,
        "rules": {k: [t[ORTH] for t in v] for k, v in sorted(tokenizer.rules.items())},
        "punct_chars": sorted(Sentencizer.default_punct_chars),
        "datatrove_punctuation": "".join(sorted(PUNCTUATION_SET)),
        "datatrove_terminal_punctuation": "".join(sorted(TERMINAL_PUNCTUATION)),
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
