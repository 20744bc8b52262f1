"""The JSON protocol at /ws/: frames in (codec), a consumer per WebSocket, frames out."""
