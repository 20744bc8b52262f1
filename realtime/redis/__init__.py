"""Redis: the URL, its errors in the documented words, real round trips, check_redis, every
key name."""
