"""Loopback test doubles of the Codegen and Slack Web APIs."""
