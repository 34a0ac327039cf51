"""The API dialects the simulator speaks, one module each, each a ``RouteTableDef``."""
