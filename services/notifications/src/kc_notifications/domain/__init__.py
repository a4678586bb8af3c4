"""The notifications domain: who is due which reminder when. Pure: the calendar of working days
(holidays) and "today" come in as arguments."""
