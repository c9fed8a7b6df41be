"""Device identity -> OpenTelemetry resource attributes (one Resource per device)."""

from collections.abc import Mapping

from ..decode import DecodeError
from ..signals import Attributes, AttrValue

SERVICE_TR069 = "tr069-bulkdata"
SERVICE_USP = "usp-bulkdata"
QUERY_ATTRIBUTE_PREFIX = "bulkdata.query."
_IDENTITY_KEYS = ("oui", "pc", "sn", "eid")


class IdentityError(DecodeError):
    pass


def bulkdata_resource(
    query: Mapping[str, str], *, auth_user: str | None = None, identity_from_auth: bool = False
) -> Attributes:
    """Resource of a Bulk Data report from its URL query (TR-369 R-BULK.1): ``oui``/``pc``/``sn``
    (CWMP) and/or ``eid`` (USP). Other RequestURIParameters become ``bulkdata.query.*``."""
    ids = {key: query[key].strip() for key in _IDENTITY_KEYS if query.get(key, "").strip()}
    attrs: dict[str, AttrValue] = {}
    cwmp = [key for key in ("oui", "pc", "sn") if key in ids]
    if len(cwmp) == 3:
        attrs |= {
            "device.id": f"{ids['oui']}-{ids['pc']}-{ids['sn']}",
            "device.model.identifier": ids["pc"],
            "tr069.oui": ids["oui"],
            "tr069.product_class": ids["pc"],
            "tr069.serial_number": ids["sn"],
            "service.name": SERVICE_TR069,
        }
        if "eid" in ids:
            attrs["usp.endpoint_id"] = ids["eid"]
    elif cwmp:
        missing = [key for key in ("oui", "pc", "sn") if key not in ids]
        raise IdentityError(
            f"incomplete device identity: query has {','.join(cwmp)} but lacks {','.join(missing)}"
        )
    elif "eid" in ids:
        attrs |= {"device.id": ids["eid"], "usp.endpoint_id": ids["eid"], "service.name": SERVICE_USP}
    elif identity_from_auth and auth_user:
        attrs |= {"device.id": auth_user, "service.name": SERVICE_TR069}
    else:
        raise IdentityError(
            "missing device identity: the URL query must carry oui, pc and sn (CWMP) or eid (USP)"
        )
    for key, value in query.items():
        if key not in _IDENTITY_KEYS and key:
            attrs[QUERY_ATTRIBUTE_PREFIX + key] = value
    return tuple(sorted(attrs.items()))
