"""The AI assistant: one reply pipeline for every channel, memory, chat API."""
