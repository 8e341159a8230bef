"""`make soak`: see bench/soak/__main__.py."""
