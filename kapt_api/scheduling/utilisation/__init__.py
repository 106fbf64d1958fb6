"""Chair utilisation: the hours of a clinic's dosing rooms booked, freed by
cancellations, moves and no-shows, and backfilled from the waitlist, over a range of
the clinic's calendar days (docs/waitlist.md, "Utilisation")."""
