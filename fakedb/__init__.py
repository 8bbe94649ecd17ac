"""A fake database: an asyncio HTTP/1.1 server that answers after a set latency."""
