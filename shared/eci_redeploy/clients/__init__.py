"""Everything that talks to a cloud API or a registry, and the data shapes they return."""
