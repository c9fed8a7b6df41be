import kusto


def test_the_package_exports_exactly_its_public_names() -> None:
    public = {name for name in vars(kusto) if not name.startswith("_")}
    assert set(kusto.__all__) == public - {"annotations"}
    assert len(kusto.__all__) == len(set(kusto.__all__))
