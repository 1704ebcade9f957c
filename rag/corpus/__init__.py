"""Reading the corpus: scraped newspaper pages, PDF, Word and HTML files -> clean
articles (`Document`s).

files.py finds and reads source files, formats/ holds one reader per file type,
extracted.py remembers what they extracted, lines.py tells what each line of a page is
(heading, body, byline, caption, web chrome), articles.py splits a page into articles
with sections.
"""

from rag.corpus.articles import parse_articles
from rag.corpus.files import CorpusReport, read_corpus, read_text_file

__all__ = ["CorpusReport", "parse_articles", "read_corpus", "read_text_file"]
