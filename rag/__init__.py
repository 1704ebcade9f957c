"""Question answering with cited passages over Chinese news reports on local governance.

Data flow, one module (or package) per step:
corpus -> chunking -> embedding -> index -> retrieval -> answering -> api / cli,
with evaluation beside it.
"""

__version__ = "0.1.0"
