"""Web addresses in chat text become links: escaped, http and https only, opened apart from the console."""
from __future__ import annotations

import re

from markupsafe import Markup, escape

# Stops before trailing punctuation that ends a sentence rather than the address.
URL = re.compile(r"""\bhttps?://[^\s<>"']+[^\s<>"'.,;:!?)\]]""", re.IGNORECASE)


def linkify(text: str) -> Markup:
    """The text, escaped, with each http(s) address as a link that cannot reach back into this page."""
    parts, last = [], 0
    for match in URL.finditer(text or ""):
        parts.append(escape(text[last:match.start()]))
        url = escape(match.group(0))
        parts.append(Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}</a>').format(url))
        last = match.end()
    parts.append(escape((text or "")[last:]))
    return Markup("").join(parts)
