"""The planning domain: pure, no I/O (plan calendars, registrations, annual plans come here)."""
