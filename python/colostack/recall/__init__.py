"""Recall of the pgvector index: its top-k against an exact scan over sampled real vectors."""
