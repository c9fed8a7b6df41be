import pytest

from receiver.mapping import IdentityError, bulkdata_resource


def test_cwmp_identity_makes_device_id_and_tr069_attributes() -> None:
    attrs = dict(bulkdata_resource({"oui": "00256D", "pc": "Z", "sn": "Y", "ct": "2015-11-01T11:12:13Z"}))
    assert attrs == {
        "device.id": "00256D-Z-Y",
        "device.model.identifier": "Z",
        "tr069.oui": "00256D",
        "tr069.product_class": "Z",
        "tr069.serial_number": "Y",
        "service.name": "tr069-bulkdata",
        "bulkdata.query.ct": "2015-11-01T11:12:13Z",
    }


def test_usp_endpoint_id_alone_is_the_device_id() -> None:
    attrs = dict(bulkdata_resource({"eid": "os::000256:asdfa99384"}))
    assert attrs == {
        "device.id": "os::000256:asdfa99384",
        "usp.endpoint_id": "os::000256:asdfa99384",
        "service.name": "usp-bulkdata",
    }


def test_eid_next_to_cwmp_identity_is_kept_as_usp_attribute() -> None:
    attrs = dict(bulkdata_resource({"oui": "A", "pc": "B", "sn": "C", "eid": "proto::x"}))
    assert attrs["device.id"] == "A-B-C"
    assert attrs["usp.endpoint_id"] == "proto::x"


def test_resource_is_sorted_and_hashable() -> None:
    resource = bulkdata_resource({"sn": "C", "pc": "B", "oui": "A"})
    assert list(resource) == sorted(resource)
    assert hash(resource) == hash(bulkdata_resource({"oui": "A", "pc": "B", "sn": "C"}))


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({}, "missing device identity"),
        ({"oui": "A", "sn": "C"}, "lacks pc"),
        ({"oui": " ", "pc": "B", "sn": "C"}, "lacks oui"),
    ],
)
def test_missing_or_partial_identity_is_refused(query: dict[str, str], reason: str) -> None:
    with pytest.raises(IdentityError) as caught:
        bulkdata_resource(query)
    assert reason in caught.value.reason
    assert caught.value.status == 400


def test_authenticated_user_stands_in_only_when_configured() -> None:
    with pytest.raises(IdentityError):
        bulkdata_resource({}, auth_user="cpe-17")
    assert dict(bulkdata_resource({}, auth_user="cpe-17", identity_from_auth=True))["device.id"] == "cpe-17"
