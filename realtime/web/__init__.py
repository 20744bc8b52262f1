"""Django HTTP views: the JavaScript client, the demo page, tokens for /ws/; error reports."""
