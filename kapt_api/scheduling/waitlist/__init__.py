"""The waitlist: courses waiting for an earlier session of one kind, the time that
cancellations, moves and no-shows free, and the offers that give that time back to
the waiting patient whose need is most urgent (docs/waitlist.md)."""
