"""Pure rendering: Markdown to Slack mrkdwn, Slack's size limits, and the bot's messages."""
