"""What a line of a scraped page is: heading, body, byline, caption or web chrome.

Scraped pages mix article text with page furniture. The rules here are about the
*shape* of lines (length, final punctuation, indentation, name lists), with a short
list of chrome phrases, so they carry over to other pages of the same kind.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

# A heading is at most this long; a longer line without final punctuation is a
# sentence broken across lines.
HEADING_MAX_CHARS = 40
SUBTITLE_MAX_CHARS = 60

SENTENCE_END = "。！？!?；;…"
CLOSING_QUOTES = "”’」』\"')）】"
# Punctuation that cannot end a heading or a whole paragraph.
CONTINUES = "，,、：:（(“‘《"

# Common Chinese surnames, first character of a name in a byline.
SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关"
    "兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻"
    "祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿"
    "桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠"
    "惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阎帅"
)

_NAME = r"[\u4e00-\u9fff]{2,3}"
_NAME_LIST = re.compile(rf"^{_NAME}(?:\s+{_NAME})*$")
_CLOSING_BYLINE = re.compile(rf"^[（(]\s*{_NAME}(?:\s+{_NAME})*\s*[)）]$")
_OPEN_BYLINE = re.compile(
    r"^(?:□|■|◎)|^【(?:作者|编辑|责任编辑|记者)[:：]|^(?:文|图|文/图|记者)[/:：]"
)
_BYLINE_WORDS = re.compile(r"记者|通讯员|评论员|特约|摄影$|整理$|报道组")
_CAPTION = re.compile(r"^图\s*\d|供图|图片.{0,20}提供|^[（(].{0,30}(?:摄|供图|提供)[)）]$|\S摄$")
_CHROME = re.compile(
    r"我要举报|发表评论|回顶部|到底部|数字报|热点新闻|网友$|^关键词[:：]|责任编辑|分享到|扫一扫|"
    r"打印本页|关闭窗口|上一篇|下一篇|版权所有|ICP|当前位置|相关新闻|阅读次数|字号|^来源[:：]|^编辑[:：]"
)
_HAS_WORD = re.compile(r"[\w\u4e00-\u9fff]")
_MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s*(.*)$")


class Kind(Enum):
    HEADING = "heading"
    BODY = "body"
    FRAGMENT = "fragment"  # body text cut mid-sentence; continues on a later line
    BYLINE = "byline"
    END_BYLINE = "end_byline"  # "(王啸)" or "【作者:…】": closes an article
    CAPTION = "caption"
    CHROME = "chrome"


@dataclass(frozen=True)
class Line:
    kind: Kind
    text: str
    level: int = 0  # markdown heading level, 0 for plain lines
    indented: bool = False


def normalize(text: str) -> str:
    """NFC, no control or zero-width characters, single spaces, stripped."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        " " if ch in "\t\u3000\xa0" else ch
        for ch in text
        if ch in "\t" or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    return re.sub(r" {2,}", " ", text).strip()


def ends_sentence(text: str) -> bool:
    stripped = text.rstrip(CLOSING_QUOTES)
    if stripped != text and stripped and stripped[-1] in SENTENCE_END:
        return True
    return bool(text) and text[-1] in SENTENCE_END


def join_broken(left: str, right: str) -> str:
    """Glue a sentence broken across lines (no space between CJK characters)."""
    if left[-1:].isascii() and left[-1:].isalnum() and right[:1].isascii() and right[:1].isalnum():
        return f"{left} {right}"
    return left + right


def is_name_list(text: str) -> bool:
    """'陈志强 冯志军 许丽慧', '李静': a line of personal names only."""
    return bool(_NAME_LIST.match(text)) and all(t[0] in SURNAMES for t in text.split())


def _looks_like_heading(text: str) -> bool:
    if text.startswith("——"):
        return len(text) <= SUBTITLE_MAX_CHARS
    if len(text) > HEADING_MAX_CHARS or ends_sentence(text) or text[-1] in CONTINUES:
        return False
    if any(mark in text for mark in "。！？!?"):
        return False
    # "该区多措并举推进电网建设,强": a clause cut after a comma is a broken sentence,
    # while headings with a comma are two short balanced halves.
    parts = re.split(r"[,，]", text)
    return len(parts) == 1 or (len(parts[-1]) > 2 and len(text) <= 28)


def classify(raw: str) -> Line | None:
    """Classify one raw line; None for a blank or punctuation-only line."""
    indented = raw[:1] in (" ", "\u3000", "\t")
    text = normalize(raw)
    if not text:
        return None
    heading = _MARKDOWN_HEADING.match(text)
    if heading:
        title = normalize(heading.group(2))
        if not title or not _HAS_WORD.search(title):
            return None
        return Line(Kind.HEADING, title, level=len(heading.group(1)))
    if not _HAS_WORD.search(text):
        return None
    short = len(text) <= HEADING_MAX_CHARS
    if short and _CHROME.search(text):
        return Line(Kind.CHROME, text, indented=indented)
    if _CLOSING_BYLINE.match(text) and all(t[0] in SURNAMES for t in text[1:-1].split()):
        return Line(Kind.END_BYLINE, text, indented=indented)
    if text.startswith("【") and _OPEN_BYLINE.match(text):
        return Line(Kind.END_BYLINE, text, indented=indented)
    if _OPEN_BYLINE.match(text) or is_name_list(text):
        return Line(Kind.BYLINE, text, indented=indented)
    if len(text) <= SUBTITLE_MAX_CHARS and not ends_sentence(text) and _BYLINE_WORDS.search(text):
        return Line(Kind.BYLINE, text, indented=indented)
    if len(text) <= SUBTITLE_MAX_CHARS + 20 and _CAPTION.search(text):
        return Line(Kind.CAPTION, text, indented=indented)
    if _looks_like_heading(text):
        return Line(Kind.HEADING, text, indented=indented)
    if ends_sentence(text):
        return Line(Kind.BODY, text, indented=indented)
    return Line(Kind.FRAGMENT, text, indented=indented)


def classify_lines(raw_text: str) -> list[Line]:
    """Classify every line, then apply the page-wide rules that need the whole file."""
    lines = [line for raw in raw_text.splitlines() if (line := classify(raw)) is not None]
    if not lines:
        return lines
    markdown = any(line.kind is Kind.HEADING and line.level for line in lines)
    long_lines = [line for line in lines if len(line.text) > HEADING_MAX_CHARS]
    indented_style = bool(long_lines) and (
        sum(line.indented for line in long_lines) >= 0.6 * len(long_lines)
    )
    first_body = next(
        (i for i, line in enumerate(lines) if line.kind in (Kind.BODY, Kind.FRAGMENT)), len(lines)
    )
    result: list[Line] = []
    for i, line in enumerate(lines):
        if (
            i == 0
            and line.kind in (Kind.BODY, Kind.FRAGMENT)
            and len(line.text) <= SUBTITLE_MAX_CHARS
        ):
            # The first line of a page is its title, even when it ends with "……".
            line = Line(Kind.HEADING, line.text)
        elif line.kind is Kind.HEADING and not line.level and i > first_body:
            if markdown:
                # Pages with '#' headings use plain short lines only for photo captions.
                line = Line(Kind.CAPTION, line.text)
            elif indented_style and not line.indented:
                line = Line(Kind.CAPTION, line.text)
        elif (
            line.kind is Kind.BODY
            and indented_style
            and not line.indented
            and i > first_body
            and len(line.text) <= SUBTITLE_MAX_CHARS
        ):
            # In pages whose paragraphs are indented, flush-left sentences are captions.
            line = Line(Kind.CAPTION, line.text)
        result.append(line)
    return result
