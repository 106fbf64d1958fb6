"""Patient links: a signed, expiring, single-purpose link a reminder carries, with which
a patient confirms, says their escort home is arranged, or cancels, without a login."""
