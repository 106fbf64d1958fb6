"""A patient's course on a published protocol version: enrolment with a care team,
where it stands (progress), discontinuation, and the protocol's sequence rules over
its sessions, which booking, slot search and day schedules all ask."""
