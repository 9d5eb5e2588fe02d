"""Rendering results: terminal tables, Markdown and JSON summaries."""
