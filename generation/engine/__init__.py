"""Text generation backends with no Django: local Hugging Face models and OpenAI-compatible endpoints."""
