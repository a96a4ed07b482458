"""SQL function families: one module per primitive family, each declaring its ``sel_`` functions.

The kernels they call live in :mod:`sqlsel.kernels`; the SQL macros that compose them live in the
top-level ``udfs/<family>.sql`` file of the same name.
"""
