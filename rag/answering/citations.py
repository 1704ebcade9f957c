"""Citation markers in model answers: normalize, parse, and check them against passages.

Models cite passages in many shapes (`【1】`, `[1, 3]`, `(来源: 2)`, `[^1]`...); everything
downstream sees one shape, `[n]`. Support checking is lexical (character bigrams), so it
needs no model, is deterministic, and works on Chinese without a tokenizer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Digits as models write them, ASCII or full-width.
_D = "[0-9０-９]"
_SEP = r"\s*(?:[,，、;；]|and|和|及)\s*"
_RANGE = r"\s*[-–—~～至到]\s*"


def _num_list(width: int) -> str:
    """`1`, `1, 3`, `1-3`, `1、2和4`... with numbers of at most `width` digits."""
    item = rf"{_D}{{1,{width}}}(?:{_RANGE}{_D}{{1,{width}}})?"
    return rf"{item}(?:{_SEP}{item})*"


# Only bracketed lists of small integers (<= 99) are markers, so `[2021]`, `[2021年数据]`
# and numbers in prose are never touched. `^[1]` and `[^1]` are footnote styles.
_BRACKETED = re.compile(rf"\^?[\[［【〔]\s*\^?\s*({_num_list(2)})\s*[\]］】〕]")
# An explicit source word makes a marker unambiguous, in any bracket style.
_SOURCE_WORDS = r"来源|出处|资料|参考|段落|sources?|passages?|refs?"
_SOURCED = re.compile(
    rf"[\[［【〔(（]\s*(?:{_SOURCE_WORDS})\s*[:：]?\s*({_num_list(2)})\s*[\]］】〕)）]",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\[(\d{1,2})\]")
_SPACED_MARKER = re.compile(r"[ \t]*\[(\d{1,2})\]")
_MARKERS_ONLY = re.compile(r"^(?:\s*\[\d{1,2}\])+\s*$")

# A sentence ends at 。！？；(or ASCII !?;), or at '.' before whitespace (English, not 2.5),
# then takes any closing quotes and the markers that follow it: `增收约2万元。[1]`.
_SENTENCE_END = re.compile(r"(?:[。！？!?；;]+|\.(?=\s|$))[”’\"'」』）)]*(?:[ \t]*\[\d{1,2}\])*")

# Content: CJK ideographs one by one, and runs of letters/digits (numbers keep decimals).
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|\d+(?:\.\d+)?|[a-z]+")
# Segments between punctuation: bigrams never span a comma, so only real phrases count.
_PUNCT_SPLIT = re.compile(r"[^\w\s.]+|\.(?!\d)")
# Numbers that carry facts; a 万/亿 unit belongs to the number (2.5万 is not 2.5亿).
_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?:万|亿)?")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")

# A number the cited passage lacks caps the score below any sensible threshold.
NUMBER_MISMATCH_CAP = 0.3
# Shorter uncited sentences ("是的。", "Yes.") make no checkable claim.
MIN_CONTENT_CHARS = 4

# Content characters in a row that no passage bigram covers: an invented clause or name.
UNSEEN_RUN = 5
_QUOTED = re.compile(r"[“「『《\"]([^”」』》\"]{2,30})[”」』》\"]")
_LATIN_WORD = re.compile(r"\b[a-z]{3,}\b")
_FIRST_PERSON = re.compile(r"我们?.")
# Characters that glue a sentence together and claim nothing on their own.
GLUE = frozenset("的了是有又也在和与及就都而被把对为着过呢吗吧啊")

# Uncited sentences that only link or introduce cited ones.
_CONNECTIVES = frozenset(
    {
        "综上所述", "综上", "总之", "总的来说", "总体来看", "总体而言", "总而言之", "此外",
        "另外", "同时", "其次", "首先", "最后", "因此", "所以", "具体如下", "具体来说",
        "具体而言", "主要包括", "主要有", "如下", "根据资料", "根据提供的资料", "根据上述资料",
        "根据以上资料", "根据所给资料", "根据材料", "根据提供的材料", "资料显示", "据资料显示",
        "insummary", "inshort", "overall", "additionally", "moreover", "furthermore",
        "inaddition", "specifically", "asfollows", "first", "second", "finally",
    }
)  # fmt: skip
# A short lead-in ending with a colon ("主要措施包括：") introduces a list; it claims nothing.
_LEAD_IN_MAX_CHARS = 15


@dataclass
class CitedSentence:
    text: str  # without markers
    markers: list[int] = field(default_factory=list)  # distinct, in order
    raw: str = field(default="", compare=False)  # as written, markers included
    line_start: bool = field(default=False, compare=False)  # begins a new line of the answer


@dataclass
class ParsedAnswer:
    text: str  # normalized: `[n]` markers only, out-of-range ones removed
    sentences: list[CitedSentence]
    cited: list[int]  # distinct passage numbers in order of first appearance
    dropped_markers: int = 0


def _numbers(group: str) -> list[int]:
    """Expand a marker's number list; a range `1-3` becomes 1, 2, 3."""
    group = unicodedata.normalize("NFKC", group)
    numbers: list[int] = []
    for item in re.split(_SEP, group):
        ends = [int(x) for x in re.split(_RANGE, item)]
        lo, hi = ends[0], ends[-1]
        numbers.extend(range(lo, hi + 1) if lo < hi else ends)
    return numbers


def _as_markers(match: re.Match[str]) -> str:
    return "".join(f"[{n}]" for n in _numbers(match.group(1)))


def normalize_markers(text: str) -> str:
    """Rewrite every citation style models produce as `[n]` (`[1-3]` -> `[1][2][3]`)."""
    text = _SOURCED.sub(_as_markers, text)
    return _BRACKETED.sub(_as_markers, text)


def split_sentences(text: str) -> list[str]:
    """Sentences of a (normalized) answer; a marker after the full stop stays with it."""
    sentences: list[str] = []
    for line in text.splitlines():
        start = 0
        pieces: list[str] = []
        for match in _SENTENCE_END.finditer(line):
            pieces.append(line[start : match.end()])
            start = match.end()
        pieces.append(line[start:])
        for piece in pieces:
            piece = piece.strip()
            if not piece:
                continue
            if _MARKERS_ONLY.match(piece) and sentences:  # markers on their own line
                sentences[-1] += piece
            else:
                sentences.append(piece)
    return sentences


def parse_citations(answer: str, n_passages: int) -> ParsedAnswer:
    """Normalize markers, drop those naming no passage, and attach the rest to sentences."""
    dropped = 0

    def keep_in_range(match: re.Match[str]) -> str:
        nonlocal dropped
        if 1 <= int(match.group(1)) <= n_passages:
            return match.group(0)
        dropped += 1
        return ""

    text = _SPACED_MARKER.sub(keep_in_range, normalize_markers(answer)).strip()
    sentences: list[CitedSentence] = []
    cited: list[int] = []
    for line in text.splitlines():
        for i, sentence in enumerate(split_sentences(line)):
            markers = list(dict.fromkeys(int(n) for n in _MARKER.findall(sentence)))
            bare = _SPACED_MARKER.sub("", sentence).strip()
            if not bare and not markers:
                continue
            if not bare and sentences:  # markers on their own line cite the sentence before
                last = sentences[-1]
                last.markers.extend(n for n in markers if n not in last.markers)
                last.raw += sentence
            else:
                start = i == 0 and bool(sentences)
                sentences.append(CitedSentence(bare, markers, raw=sentence, line_start=start))
            cited.extend(n for n in markers if n not in cited)
    return ParsedAnswer(text=text, sentences=sentences, cited=cited, dropped_markers=dropped)


def plain_text(text: str) -> str:
    """The text as support is checked: no `[n]` markers, NFKC, lower case, no thousands
    separators (1,060 is 1060)."""
    # An ellipsis would become "..." under NFKC and glue to a following figure as a
    # decimal point: "……8月16日" must still hold the number 8.
    text = _MARKER.sub(" ", text).replace("…", " ").replace("⋯", " ")
    text = unicodedata.normalize("NFKC", text).lower()
    return _THOUSANDS.sub("", text)


def _units(text: str) -> tuple[set[tuple[str, ...]], int]:
    """Content units of prepared text: token bigrams within segments (a lone token counts
    alone), plus the number of content characters."""
    units: set[tuple[str, ...]] = set()
    chars = 0
    for segment in _PUNCT_SPLIT.split(text):
        tokens = _TOKEN.findall(segment)
        chars += sum(len(t) for t in tokens)
        if len(tokens) == 1:
            units.add((tokens[0],))
        units.update(zip(tokens, tokens[1:], strict=False))
    return units, chars


def _passage_units(passage: str) -> set[tuple[str, ...]]:
    units: set[tuple[str, ...]] = set()
    for segment in _PUNCT_SPLIT.split(passage):
        tokens = _TOKEN.findall(segment)
        units.update((t,) for t in tokens)
        units.update(zip(tokens, tokens[1:], strict=False))
    return units


def support_score(sentence: str, passage: str) -> float:
    """Share of the sentence's content bigrams found in the passage, in [0, 1].

    A number the passage does not contain caps the score at NUMBER_MISMATCH_CAP: a changed
    figure is the error lexical overlap would otherwise miss. A sentence with no content
    scores 1.0 (there is nothing to support).
    """
    sentence, passage = plain_text(sentence), plain_text(passage)
    units, _ = _units(sentence)
    if not units:
        return 1.0
    score = len(units & _passage_units(passage)) / len(units)
    for number in _NUMBER.findall(sentence):
        tail = "" if number.endswith(("万", "亿")) else r"(?![\d.]?\d)"
        if not re.search(rf"(?<![\d.]){re.escape(number)}{tail}", passage):
            return min(score, NUMBER_MISMATCH_CAP)
    return score


def _glue_free_tokens(segment: str) -> list[str]:
    return [t for t in _TOKEN.findall(segment) if t not in GLUE]


def _glue_free_units(text: str) -> set[tuple[str, ...]]:
    """Tokens and token bigrams within segments, glue characters left out."""
    units: set[tuple[str, ...]] = set()
    for segment in _PUNCT_SPLIT.split(text):
        tokens = _glue_free_tokens(segment)
        units.update((t,) for t in tokens)
        units.update(zip(tokens, tokens[1:], strict=False))
    return units


def strict_support(sentence: str, passage: str, question: str = "") -> float:
    """How well `passage` supports a model's sentence, in [0, 1], judged strictly.

    The share of the sentence's content bigrams the passage holds, counting neither glue
    characters (的, 是, 又...) nor bigrams the sentence takes from the `question` (a model
    restating the question adds no claim). Capped at NUMBER_MISMATCH_CAP when the passage
    lacks a number of the sentence, a name it quotes (“…”, 《…》, Latin words), its
    first-person words (我将, 我的: the model speaking of itself), or a run of
    UNSEEN_RUN content characters the passage and question do not cover (an invented
    clause). A sentence that only restates the question scores 0.
    """
    text, asked, passage = plain_text(sentence), plain_text(question), plain_text(passage)
    known, given = _glue_free_units(passage), _glue_free_units(asked)
    cap = 1.0
    quoted = [n.strip() for n in _QUOTED.findall(text)] + _LATIN_WORD.findall(text)
    # "我将…", "我的…": the model speaking of itself, unless the passage quotes the words.
    quoted += _FIRST_PERSON.findall(text)
    if any(name and name not in passage for name in quoted):
        cap = NUMBER_MISMATCH_CAP
    for number in _NUMBER.findall(text):
        tail = "" if number.endswith(("万", "亿")) else r"(?![\d.]?\d)"
        if not re.search(rf"(?<![\d.]){re.escape(number)}{tail}", passage):
            cap = NUMBER_MISMATCH_CAP
    claimed, held = 0, 0
    for segment in _PUNCT_SPLIT.split(text):
        tokens = _glue_free_tokens(segment)
        pairs = list(zip(tokens, tokens[1:], strict=False)) or [(t,) for t in tokens]
        for unit in pairs:
            if unit not in given:
                claimed += 1
                held += unit in known
        run = 0
        for i, token in enumerate(tokens):
            around = [(token,)] if len(tokens) == 1 else []
            around += [(tokens[i - 1], token)] if i else []
            around += [(token, tokens[i + 1])] if i + 1 < len(tokens) else []
            seen = any(u in known or u in given for u in around)
            run = 0 if seen else run + len(token)
            if run >= UNSEEN_RUN:
                cap = NUMBER_MISMATCH_CAP
    if not claimed:
        return 0.0
    return min(held / claimed, cap)


def is_claim(text: str) -> bool:
    """Does the sentence state something to check (not a list number like "1." or a
    connective like "综上所述：")?"""
    return _units(plain_text(text))[1] >= 2 and not _is_connective(text)


def _is_connective(text: str) -> bool:
    content = "".join(_TOKEN.findall(plain_text(text)))
    if content in _CONNECTIVES:
        return True
    return text.rstrip().endswith((":", "：")) and len(content) <= _LEAD_IN_MAX_CHARS


def check_support(parsed: ParsedAnswer, passages: list[str], threshold: float = 0.5) -> list[str]:
    """Texts of the sentences the cited passages do not support.

    The default threshold of 0.5 accepts verbatim and lightly reworded sentences (which keep
    most character bigrams: names, figures, key terms) and rejects sentences that share only
    topic words with the passage they cite: on the seed corpus, sentences scored against
    unrelated 200-character passages stay below 0.3 (p99 0.25). A wrong number (capped at
    0.3) always fails.
    An uncited sentence with real content is unsupported: the prompt asks for a marker on
    every claim.
    """
    unsupported: list[str] = []
    for sentence in parsed.sentences:
        if sentence.markers:
            scores = [
                support_score(sentence.text, passages[n - 1])
                for n in sentence.markers
                if 1 <= n <= len(passages)
            ]
            if max(scores, default=0.0) < threshold:
                unsupported.append(sentence.text)
        elif _units(plain_text(sentence.text))[1] >= MIN_CONTENT_CHARS and not _is_connective(
            sentence.text
        ):
            unsupported.append(sentence.text)
    return unsupported
