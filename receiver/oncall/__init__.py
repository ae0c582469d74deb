"""On-call rotations: who is on call at a time, overrides, and the calendar feed."""
