"""Helpers shared by tests: tiny random models with the real SmolLM2 tokenizer, cached on disk."""
