"""Operations: the pod's counters, stats snapshots for the admin, /metrics, /healthz, /readyz,
and closing a connection for staff."""
