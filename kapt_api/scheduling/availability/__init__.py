"""When a course's next sessions can happen: slot search over every candidate room
and person, a whole course calendar proposed at once, and batches of sessions booked
all-or-nothing. Every slot offered is a booking the booking rules accept."""
