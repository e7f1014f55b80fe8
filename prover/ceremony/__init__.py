"""Setup ceremonies: phase-1 powers of tau and phase-2 contributions (and, for tests only, the
INSECURE known-secret powers of tau)."""
