"""Test files made on the spot, nothing downloaded: PDFs written with reportlab (its built-in
CID font STSong-Light writes Chinese without a font file), Word files with python-docx,
and an HTML news page with its chrome around the article."""

from __future__ import annotations

import io
import zipfile

import docx
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "STSong-Light"
BODY_SIZE = 11
LINE_CHARS = 38  # characters per line of body text: paragraphs wrap mid-sentence

# A report whose answer is on its second page: 14 sewage stations in 白沙镇.
REPORT_TITLE = "白沙镇2023年人居环境整治工作报告"
REPORT_PAGE_1 = [
    ("一、总体情况", 14),
    "今年以来，白沙镇坚持把农村人居环境整治作为乡村振兴的头等大事来抓，成立了由镇党委书记任组长的"
    "工作专班，制定了村庄清洁行动方案，全镇十八个行政村全部签订了目标责任书。",
    "镇里组织党员干部、志愿者和村民开展村庄清洁行动，累计清理生活垃圾两千多吨，拆除危旧房屋一百二十处。",
]
REPORT_PAGE_2 = [
    ("二、污水治理", 14),
    "白沙镇今年建成农村生活污水处理站14座，日处理能力达到3200吨，覆盖全镇一万二千多户群众，"
    "生活污水乱排乱放的现象基本消除。",
    "镇里还建立了污水处理设施运行维护制度，每座处理站明确一名管护员，每月检测一次出水水质。",
]
REPORT_QUESTION = "白沙镇今年建成了多少座农村生活污水处理站?"

# A Word file with a heading and a table: 26 kilometres of village roads in 东坪乡.
WORD_TITLE = "东坪乡道路建设情况汇报"
WORD_HEADING = "村道硬化"
WORD_PARAGRAPH = (
    "东坪乡今年完成村道硬化26公里，新修产业路8公里，全乡所有行政村都通了水泥路，"
    "群众出行和农产品运输更加方便。"
)
WORD_TABLE = [
    ("村名", "硬化里程", "受益户数"),
    ("上坪村", "9公里", "420户"),
    ("下坪村", "6公里", "310户"),
]
WORD_QUESTION = "东坪乡今年完成村道硬化多少公里?"

# An HTML news page: the article about 37 clinics in 青山县, inside nav, ads, footer, comments.
PAGE_TITLE = "青山县37个村卫生室全部建成投用"
PAGE_PARAGRAPHS = [
    "今年以来，青山县把村卫生室建设作为民生实事来抓，全县新建标准化村卫生室37个，"
    "实现了村级卫生服务全覆盖。",
    "县卫生健康局介绍，县财政今年投入资金1800万元，为每个新建卫生室配备了一名乡村医生"
    "和一台远程会诊设备，村民在家门口就能请县医院的专家看病。",
    "青山县还组织乡村医生到县医院轮训，每人每年培训不少于两个月，重点提升常见病、"
    "慢性病的诊治能力。",
    "家住石门村的王大爷说：“以前看病要走十几里山路，现在家门口就能看病了。”",
]
PAGE_QUESTION = "青山县新建了多少个标准化村卫生室?"
CHROME = ["首页", "新闻中心", "政务公开", "限时八折", "网友评论", "点赞支持", "版权所有", "ICP备"]


def _wrap(text: str, width: int = LINE_CHARS) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)]


def pdf_bytes(
    pages: list[list[str | tuple[str, int]]], title: str = "", page_numbers: bool = True
) -> bytes:
    """A PDF with one text page per item: a (text, size) is a heading line in that size,
    a str is a paragraph wrapped at LINE_CHARS characters (lines break mid-sentence)."""
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for number, lines in enumerate(pages, start=1):
        y = 780.0
        if number == 1 and title:
            pdf.setFont(FONT, 18)
            pdf.drawString(72, y, title)
            y -= 36
        for item in lines:
            text, size = (item, BODY_SIZE) if isinstance(item, str) else item
            for piece in _wrap(text) if isinstance(item, str) else [text]:
                pdf.setFont(FONT, size)
                pdf.drawString(72, y, piece)
                y -= size * 1.6
            y -= 6
        if page_numbers:
            pdf.setFont(FONT, 9)
            pdf.drawString(290, 40, f"- {number} -")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def report_pdf() -> bytes:
    return pdf_bytes([REPORT_PAGE_1, REPORT_PAGE_2], REPORT_TITLE)


def long_pdf(pages: int) -> bytes:
    """A report of `pages` pages (for timings), each a section with three paragraphs."""
    body = [
        [(f"第{n}部分 工作进展", 14), *(f"第{n}项工作{p}：{REPORT_PAGE_1[1]}" for p in range(3))]
        for n in range(1, pages + 1)
    ]
    return pdf_bytes(body, REPORT_TITLE)


def scanned_pdf() -> bytes:
    """Pages of drawings only: what a scanner without OCR makes (no text layer)."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    for _ in range(2):
        pdf.rect(72, 400, 300, 200, fill=1)
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def encrypted_pdf(password: str = "secret") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(report_pdf())))
    writer.encrypt(password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def word_bytes() -> bytes:
    document = docx.Document()
    document.add_heading(WORD_TITLE, level=1)
    document.add_paragraph("东坪乡位于县境东部，辖九个行政村，总人口一万六千人。")
    document.add_heading(WORD_HEADING, level=2)
    document.add_paragraph(WORD_PARAGRAPH)
    table = document.add_table(rows=0, cols=3)
    for row in WORD_TABLE:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def long_word(sections: int) -> bytes:
    """A Word report of `sections` headed sections (for timings), each with a table."""
    document = docx.Document()
    document.add_heading(WORD_TITLE, level=1)
    for n in range(1, sections + 1):
        document.add_heading(f"第{n}部分 {WORD_HEADING}", level=2)
        for p in range(3):
            document.add_paragraph(f"第{n}项工作{p}：{WORD_PARAGRAPH}")
        table = document.add_table(rows=0, cols=3)
        for row in WORD_TABLE:
            for cell, text in zip(table.add_row().cells, row, strict=True):
                cell.text = f"{text}{n}"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bomb_docx(unpacked: int) -> bytes:
    """A valid .docx plus one highly compressible entry that unpacks to `unpacked` bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(word_bytes())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for entry in source.infolist():
            bomb.writestr(entry, source.read(entry))
        with bomb.open("word/media/padding.bin", "w") as padding:
            block = b"\0" * (1 << 20)
            for _ in range(unpacked // len(block)):
                padding.write(block)
    return out.getvalue()


def news_page(paragraphs: list[str] | None = None, title: str = PAGE_TITLE) -> bytes:
    body = "".join(f"<p>{p}</p>\n" for p in (PAGE_PARAGRAPHS if paragraphs is None else paragraphs))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}_青山日报</title>
<meta name="author" content="李明">
<meta property="og:site_name" content="青山日报">
<meta property="article:published_time" content="2023-06-18">
</head><body>
<header><div class="logo">青山日报</div>
<nav><ul><li><a href="/">首页</a></li><li><a href="/news">新闻中心</a></li>
<li><a href="/gov">政务公开</a></li></ul></nav></header>
<div class="ad">广告：青山牌矿泉水，健康好水，限时八折，欢迎订购。</div>
<article><h1>{title}</h1>
<p class="byline">记者 李明 通讯员 王芳</p>
{body}</article>
<div class="comments"><h3>网友评论</h3><p>张三：这是好事，点赞支持一下！</p>
<p>李四：我们村什么时候也能建一个？</p></div>
<footer><p>版权所有 青山日报社 湘ICP备12345678号</p></footer>
</body></html>""".encode()
