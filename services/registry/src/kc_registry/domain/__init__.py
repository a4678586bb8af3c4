"""The registry's domain: pure, no I/O, no clock (time and ids come in as arguments)."""
