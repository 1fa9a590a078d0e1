"""codegen-slack: Codegen's coding agents in Slack."""
