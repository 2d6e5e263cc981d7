"""One module per area, each ending in `routes = [...]`; app.py mounts them."""
from starlette.convertors import IntegerConvertor, register_url_convertor


class DatabaseId(IntegerConvertor):
    """`{x:int}` path ids that fit a 64-bit integer; longer digit strings match no route (404), never overflow."""

    regex = "[0-9]{1,18}"


# Registered before any route module compiles its paths, which happens when they are imported.
register_url_convertor("int", DatabaseId())
