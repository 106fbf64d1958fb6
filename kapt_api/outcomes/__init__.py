"""PHQ-9 and GAD-7 scores per course, taken before each dose."""
