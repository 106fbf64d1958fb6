"""Private iCalendar feeds: a staff member's appointments for a calendar app, behind a
token that is the feed's only credential."""
