"""calllog."""
