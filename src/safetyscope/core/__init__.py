"""Records, registries, errors and configuration shared by every part of safetyscope."""
