"""The pod's lifecycle: start-up and the layer choice, the serving state per event loop, drain."""
