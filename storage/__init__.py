"""Durable state: the only package that touches SQL."""
