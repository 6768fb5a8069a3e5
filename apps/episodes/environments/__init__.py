"""Pure, seeded, snapshot-able environments (no Django). Protocols in `base`."""
