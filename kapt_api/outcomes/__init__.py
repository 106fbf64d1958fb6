"""PHQ-9 and GAD-7 scores per course, taken before each dose."""

from kapt_api.outcomes import receivers

receivers.connect()
