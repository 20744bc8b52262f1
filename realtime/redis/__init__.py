"""Redis: the URL, its errors in SPEC words, real round trips, check_redis, and every key name."""
