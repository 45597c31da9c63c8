"""Image dataset kinds."""
