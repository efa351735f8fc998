"""Keyboard builders and typed callback data, one module per feature."""
