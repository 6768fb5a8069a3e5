"""Demo data for `make run`: the top layer, it may use every app's services."""
