"""Corpus import: streaming readers per file format, typed errors and article-grouped splits."""
