"""USP bulk data over MQTT: a USP Record carrying a ``Device.BulkData.Profile.{i}.Push!`` Notify Event
whose ``Data`` argument is the report; decoded and mapped exactly like an HTTP Bulk Data report, with
the agent's endpoint id (the Record's ``from_id``) as the device identity.

When the Notify has ``send_resp`` set the Agent resends it until a NotifyResp arrives (TR-369
R-NOT.8), so we answer, but only once the report's data is acknowledged (``MqttInputs`` publishes
the ``Reply`` when the data's future succeeds): an answered report must never be lost."""

import logging
from typing import Final

from ..decode import decode_bulkdata
from ..decode.usp import UspBulkData, decode_usp_bulkdata, encode_notify_resp
from ..mapping import BulkDataMapper, bulkdata_resource
from ._mqtt_inputs import Decoded, Reply

log = logging.getLogger(__name__)
# TR-369 MQTT binding: "/reply-to=" ends an MQTT 3.1.1 sender's Topic Name, followed by its reply-to
# topic with each "/" written "%2F" (R-MQTT.24, R-MQTT.25).
REPLY_TO_MARK: Final = "/reply-to="
ENDPOINT_ID_FIELD: Final = "{endpoint_id}"
USP_MSG_CONTENT_TYPE: Final = "application/vnd.bbf.usp.msg"  # R-MQTT.27
_SPARKPLUG_NAMESPACE: Final = "spBv1.0/"
_MAX_WARNED_TO_IDS: Final = 100


def reply_topic(topic: str, response_topic: str | None, endpoint_id: str, template: str | None) -> str | None:
    """The topic the Agent wants its answer on, or None when there is none we may publish to.

    TR-369's MQTT binding has the Agent name its "reply to" topic in every PUBLISH (R-MQTT.22): in
    the MQTT 5 Response Topic property (R-MQTT.23/.26), or with MQTT 3.1.1, which has no properties,
    after the last "/reply-to=" of the Topic Name, "%2F" standing for "/" (R-MQTT.24/.25). Only when
    the Agent gave neither (it breaks R-MQTT.22, or it used MQTT 5 while our session fell back to
    3.1.1 and so never saw its properties) do we guess from ``template`` (``mqtt.usp_reply_topic``,
    e.g. "usp/agent/{endpoint_id}"; None: no guessing). What the Agent named is not second-guessed:
    when it is unusable there is no answer rather than one sent somewhere else.
    """
    if response_topic is not None:
        chosen = response_topic
    elif (mark := topic.rfind(REPLY_TO_MARK)) >= 0:
        chosen = topic[mark + len(REPLY_TO_MARK) :].replace("%2F", "/")
    elif template is not None:
        chosen = template.replace(ENDPOINT_ID_FIELD, endpoint_id)
    else:
        return None
    return chosen if publishable(chosen) else None


def publishable(topic: str) -> bool:
    """A Topic Name we may publish an answer to: no wildcards or NUL (MQTT 4.7.3, 1.5.4), not a
    broker's "$" topic, not the Sparkplug namespace where we are the Host Application. The topic
    comes from the Agent: the broker's ACLs are what keeps it within the Agent's own topics."""
    return (
        bool(topic)
        and not any(c in topic for c in "+#\0")
        and not topic.startswith(("$", _SPARKPLUG_NAMESPACE))
        and len(topic.encode("utf-8")) <= 0xFFFF
    )


class UspBulkDataInput:
    def __init__(
        self,
        mapper: BulkDataMapper,
        *,
        controller_id: str,
        only_addressed_to_us: bool = True,
        reply_topic_template: str | None = None,
        own_topic: str | None = None,
        fast_csv: bool = True,
    ) -> None:
        """``controller_id``: our USP Endpoint ID, the NotifyResp's from_id. ``only_addressed_to_us``:
        Records whose to_id is another Endpoint are ignored, as TR-369 R-E2E.1 requires (the
        operator configured our id); otherwise every Record is taken and answered in the name of the
        Controller it was addressed to (what an Agent configured with any Controller id expects when
        this receiver is the one that collects its bulk data). ``own_topic``: where Agents reach us,
        our own "reply to" topic (R-MQTT.22), or None when no exact topic is known."""
        self._mapper = mapper
        self._controller_id = controller_id
        self._only_addressed_to_us = only_addressed_to_us
        self._template = reply_topic_template
        self._own_topic = own_topic
        self._fast_csv = fast_csv
        self.unanswerable = 0  # send_resp set, but no topic to answer on
        self.not_addressed_to_us = 0  # ignored Records (R-E2E.1)
        self._warned_to_ids: set[str] = set()

    def __call__(
        self, topic: str, payload: bytes, received_ns: int, response_topic: str | None = None
    ) -> Decoded:
        notification = decode_usp_bulkdata(payload)
        if self._only_addressed_to_us and notification.to_id != self._controller_id:
            self.not_addressed_to_us += 1
            if (
                len(self._warned_to_ids) < _MAX_WARNED_TO_IDS
                and notification.to_id not in self._warned_to_ids
            ):
                self._warned_to_ids.add(
                    notification.to_id
                )  # once per id: a misconfiguration is loud, not a flood
                log.warning(
                    "USP Records addressed to %r are ignored: mqtt.usp_controller_id is %r (TR-369 R-E2E.1)",
                    notification.to_id,
                    self._controller_id,
                )
            return Decoded([])
        resource = bulkdata_resource({"eid": notification.endpoint_id})
        # The annex leaves the encoding to the profile: let the body tell JSON from CSV.
        table = decode_bulkdata(
            notification.reports_json, content_type=None, report_format=None, fast_csv=self._fast_csv
        )
        report, _ = self._mapper.map_report(
            table, resource, fallback_time_ns=received_ns, received_ns=received_ns
        )
        reply = self._notify_resp(topic, response_topic, notification) if notification.send_resp else None
        return Decoded([report], reply)

    def _answering_as(self, notification: UspBulkData) -> str:
        if self._only_addressed_to_us or not notification.to_id:
            return self._controller_id
        return notification.to_id

    def _notify_resp(self, topic: str, response_topic: str | None, notification: UspBulkData) -> Reply | None:
        to = reply_topic(topic, response_topic, notification.endpoint_id, self._template)
        if to is None:
            self.unanswerable += 1
            return None
        # MQTT 5 only (gmqtt drops properties on a 3.1.1 session): R-MQTT.27's Content Type, R-MQTT.29's
        # usp-err-id (the Record's to_id "/" msg_id) and our own reply-to topic (R-MQTT.23).
        properties: dict[str, object] = {"content_type": USP_MSG_CONTENT_TYPE}
        err_id = f"{notification.endpoint_id}/{notification.msg_id}"
        if "\0" not in err_id:  # MQTT strings must not hold U+0000 (1.5.4): the broker would drop us
            properties["user_property"] = ("usp-err-id", err_id)
        if self._own_topic is not None:
            properties["response_topic"] = self._own_topic
        return Reply(
            topic=to,
            payload=encode_notify_resp(notification, controller_id=self._answering_as(notification)),
            properties=properties,
        )
