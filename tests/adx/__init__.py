"""The collector's real azuredataexplorer exporter against a local Kusto test double."""
