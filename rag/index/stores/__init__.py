"""Vector stores as a backend family: the protocol (base), FAISS, Milvus, and a factory."""
