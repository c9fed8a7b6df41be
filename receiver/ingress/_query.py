"""Lenient URL handling for CPE requests: the path and its identity query.

Real CPE software writes ``/path&oui=..`` (no ``?``), ``/path?&oui=..``, and values it did not
escape; all must reach the same route with the same parameters."""

from urllib.parse import unquote


def split_target(raw_path: bytes, query_string: bytes) -> tuple[str, dict[str, str]]:
    """Return (path, query) for a request target; the first ``?`` or ``&`` starts the query."""
    target = raw_path + (b"?" + query_string if query_string else b"")
    text = target.decode("latin-1")
    cut = min((at for at in (text.find("?"), text.find("&")) if at >= 0), default=len(text))
    path = unquote(text[:cut], errors="replace")
    return normalise_path(path), parse_query(text[cut + 1 :])


def parse_query(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in query.replace("?", "&").split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key = unquote(key, errors="replace").strip()
        if key and key not in params:  # the first occurrence wins, like the CPE's required params
            params[key] = unquote(value, errors="replace")
    return params


def normalise_path(path: str) -> str:
    stripped = path.rstrip("/")
    return stripped or "/"
