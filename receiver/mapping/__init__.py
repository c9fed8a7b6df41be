"""mapping: naming and typing rules from decoded records to OpenTelemetry signals. Pure."""

from ._bulkdata import REPORT_LOG_BODY, BulkDataMapper, MappingStats
from ._resource import QUERY_ATTRIBUTE_PREFIX, SERVICE_TR069, SERVICE_USP, IdentityError, bulkdata_resource
from ._rules import Rule, RulesError, RuleSet, load_rules
from ._tr181 import ParamSpec, load_tr181_table, template_of

__all__ = [
    "QUERY_ATTRIBUTE_PREFIX",
    "REPORT_LOG_BODY",
    "SERVICE_TR069",
    "SERVICE_USP",
    "BulkDataMapper",
    "IdentityError",
    "MappingStats",
    "ParamSpec",
    "Rule",
    "RuleSet",
    "RulesError",
    "bulkdata_resource",
    "load_rules",
    "load_tr181_table",
    "template_of",
]
