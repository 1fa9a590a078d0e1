"""Slack surfaces: each module parses one kind of request, records the intent and acknowledges."""
