"""GPU health validation: read facts via one readings interface, judge them in small checks."""
