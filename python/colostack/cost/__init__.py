"""Per-service GPU and storage usage in Redis, and the monthly chargeback built from it."""
