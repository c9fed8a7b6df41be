"""USP bulk data over MQTT: a USP Record carrying a ``Device.BulkData.Profile.{i}.Push!`` Notify Event
whose ``Data`` argument is the report; decoded and mapped exactly like an HTTP Bulk Data report, with
the agent's endpoint id (the Record's ``from_id``) as the device identity."""

from ..decode import decode_bulkdata
from ..decode.usp import decode_usp_bulkdata
from ..mapping import BulkDataMapper, bulkdata_resource
from ..signals import MappedReport


class UspBulkDataInput:
    def __init__(self, mapper: BulkDataMapper, *, fast_csv: bool = True) -> None:
        self._mapper = mapper
        self._fast_csv = fast_csv

    def __call__(self, topic: str, payload: bytes, received_ns: int) -> list[MappedReport]:
        notification = decode_usp_bulkdata(payload)
        resource = bulkdata_resource({"eid": notification.endpoint_id})
        # The annex leaves the encoding to the profile: let the body tell JSON from CSV.
        table = decode_bulkdata(
            notification.reports_json, content_type=None, report_format=None, fast_csv=self._fast_csv
        )
        report, _ = self._mapper.map_report(
            table, resource, fallback_time_ns=received_ns, received_ns=received_ns
        )
        return [report]
