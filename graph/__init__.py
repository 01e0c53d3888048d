"""The knowledge graph: the pure kernel (``model``, ``errors``, ``timeutil``, ``changes``),
plant files (``plantfile/``) and the Bolt adapter (``bolt/``)."""
