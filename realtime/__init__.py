"""Murror realtime: rooms over WebSockets, shared by every pod through Redis."""
