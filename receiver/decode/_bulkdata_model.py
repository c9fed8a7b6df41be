"""The decoded form of one Bulk Data HTTP body: parallel columns, one entry per parameter value."""

from dataclasses import dataclass, field
from enum import StrEnum

BulkValue = str | int | float | bool


class ReportFormat(StrEnum):
    """The four report formats of TR-069 Annex N / TR-369 bulk data (``BBF-Report-Format``)."""

    PARAMETER_PER_ROW = "ParameterPerRow"
    PARAMETER_PER_COLUMN = "ParameterPerColumn"
    OBJECT_HIERARCHY = "ObjectHierarchy"
    NAME_VALUE_PAIR = "NameValuePair"

    @property
    def is_csv(self) -> bool:
        return self in (ReportFormat.PARAMETER_PER_ROW, ReportFormat.PARAMETER_PER_COLUMN)


@dataclass(slots=True)
class ParameterTable:
    """Columns of one body. ``times_ns`` is the row timestamp or CollectionTime, None when absent;
    ``types`` the TR-106 type a ParameterPerRow CSV declared, None otherwise. ``reports`` counts the
    reports in the body (CSV rows of ParameterPerColumn, JSON Report entries, distinct row times)."""

    names: list[str] = field(default_factory=list)
    values: list[BulkValue] = field(default_factory=list)
    types: list[str | None] = field(default_factory=list)
    times_ns: list[int | None] = field(default_factory=list)
    reports: int = 0

    def __len__(self) -> int:
        return len(self.names)

    def append(self, name: str, value: BulkValue, type_: str | None, time_ns: int | None) -> None:
        self.names.append(name)
        self.values.append(value)
        self.types.append(type_)
        self.times_ns.append(time_ns)
