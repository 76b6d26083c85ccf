"""Paper sources: each builds Paper objects for a week; nothing downstream does I/O."""
