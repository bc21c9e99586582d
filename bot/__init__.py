"""influbot: a chat bot for Belgian creators (certificate FAQ, quiz, helplines, moderator desk)."""

__version__ = "0.1.0"
