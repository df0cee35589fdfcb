"""Reading, mapping and validating CSV imports: provider knowledge with no Django views.

``reading`` turns bytes into rows (encoding, delimiter, NUL bytes, ragged rows), ``mapping``
matches columns to catalogue fields, ``cells`` validates and normalises one row into a
provider-native payload, and ``compare`` classifies it against the mirrored record.
"""
