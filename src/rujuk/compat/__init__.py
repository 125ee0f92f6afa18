"""Where rujuk relies on a library's internals (private attributes, private modules, classes
it subclasses beyond their documented hooks): one module per library, each pinned by
tests/compat/test_<library>.py, so that a version bump that moves them fails there, by name.
Nothing else in rujuk touches those internals."""
