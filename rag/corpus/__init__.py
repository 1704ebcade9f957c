"""Reading the corpus: scraped newspaper pages -> clean articles (`Document`s).

files.py decodes source files, lines.py tells what each line is (heading, body,
byline, caption, web chrome), articles.py splits a file into articles with sections.
"""

from rag.corpus.articles import parse_articles
from rag.corpus.files import CorpusReport, read_corpus, read_text_file

__all__ = ["CorpusReport", "parse_articles", "read_corpus", "read_text_file"]
