"""Datasets made by data extensions (digits.extensions.data): one job kind, one page, one tool for all."""
