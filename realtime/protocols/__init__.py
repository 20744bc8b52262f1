"""Client protocols: what a connection is whatever its wire (session), and each wire's codec
and consumer (ws/: the JSON protocol at /ws/)."""
