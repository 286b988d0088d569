"""The feedback form on /help and its admin list."""
