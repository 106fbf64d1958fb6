"""Treatment protocols: versions, session types, sequencing, monitoring checklists and
reminder policies, and the built-in templates.

Other domains read a version through `definition.definition_of(version)`.
"""
