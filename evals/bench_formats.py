"""Extraction and ingest time per file format: `python evals/bench_formats.py`.

Files are generated (tests/make_files.py): a 20-page Chinese PDF (reportlab, CID font),
a 20-section Word report with tables, an HTML news page with its chrome. Extraction is
the reader alone (no cache), the median of several runs; ingest is `add_documents` of
the file into a temporary copy of the seed corpus and index (only the new passages are
embedded), as `rag add` does. Nothing is asserted; the figures are printed as a table.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402 - after the path set-up
from rag.corpus.formats import ReadLimits, read_bytes  # noqa: E402
from rag.corpus.uploads import prepare_upload  # noqa: E402
from rag.documents import add_documents, rebuild  # noqa: E402
from rag.embedding import build_embedder, limit_threads  # noqa: E402
from tests.make_files import long_pdf, long_word, news_page, report_pdf  # noqa: E402


def files(pages: int) -> dict[str, bytes]:
    return {
        f"report-{pages}p.pdf": long_pdf(pages),
        "report-2p.pdf": report_pdf(),
        f"report-{pages}s.docx": long_word(pages),
        "news.html": news_page(),
    }


def extraction_ms(name: str, data: bytes, runs: int) -> tuple[float, int, int]:
    """Median milliseconds to read the file, its articles' characters and pages."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        documents = read_bytes(data, name, ReadLimits())
        times.append((time.perf_counter() - started) * 1000)
    chars = sum(len(d.text) for d in documents)
    pages = max((len(d.pages) for d in documents), default=0)
    return statistics.median(times), chars, pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20, help="pages of the long PDF")
    parser.add_argument("--runs", type=int, default=5, help="extraction runs per file")
    parser.add_argument("--threads", type=int, default=2, help="BLAS/torch threads")
    args = parser.parse_args()
    limit_threads(args.threads)
    made = files(args.pages)
    with tempfile.TemporaryDirectory() as tmp:
        corpus, index = Path(tmp) / "seeds", Path(tmp) / "index"
        shutil.copytree(ROOT / "seeds", corpus)
        if (ROOT / "index").is_dir():  # its vectors are reused: only new passages embedded
            shutil.copytree(ROOT / "index", index)
        settings = Settings(source_dir=corpus, index_dir=index, _env_file=None)
        embedder = build_embedder(settings)
        started = time.perf_counter()
        rebuild(settings, embedder)  # also warms the reader's cache for the seed files
        print(f"seed index (re)built in {time.perf_counter() - started:.1f}s (not counted)\n")
        print("| file | bytes | chars | pages | extract ms | add s | chunks | embedded |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, data in made.items():
            ms, chars, pages = extraction_ms(name, data, args.runs)
            upload = prepare_upload(name, data, limit=settings.max_upload_bytes)
            started = time.perf_counter()
            (result,) = add_documents(settings, embedder, [upload])
            seconds = time.perf_counter() - started
            chunks = sum(d.chunks for d in result.documents)
            print(
                f"| {name} | {len(data)} | {chars} | {pages or '-'} | {ms:.1f} | "
                f"{seconds:.2f} | {chunks} | {result.embedded} |"
            )


if __name__ == "__main__":
    main()
