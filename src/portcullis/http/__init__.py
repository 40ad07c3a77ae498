"""The proxy engine: an HTTP/1.1 server and upstream client on asyncio protocols."""
