"""The fan-out core: rooms of this pod, and room events to every member on every pod.

Knows no wire format of any client protocol and no Django settings: protocols plug in through
the small interfaces of `realtime.fanout.types` (a member that takes encoded text, an encoder
per protocol), and the pod wires it to a transport (`realtime.fanout.transport`).
"""
