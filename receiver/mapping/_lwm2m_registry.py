"""Names and units of the common LwM2M objects (OMA LwM2M registry): Device (3), Connectivity
Monitoring (4) and the IPSO smart objects 3300-3350. Others are named by their ids."""

# object id -> name
OBJECTS: dict[int, str] = {
    3: "Device",
    4: "ConnectivityMonitoring",
    5: "FirmwareUpdate",
    6: "Location",
    3300: "GenericSensor",
    3301: "Illuminance",
    3302: "Presence",
    3303: "Temperature",
    3304: "Humidity",
    3305: "PowerMeasurement",
    3306: "Actuation",
    3308: "SetPoint",
    3310: "LoadControl",
    3311: "LightControl",
    3312: "PowerControl",
    3313: "Accelerometer",
    3314: "Magnetometer",
    3315: "Barometer",
    3316: "Voltage",
    3317: "Current",
    3318: "Frequency",
    3319: "Depth",
    3320: "Percentage",
    3321: "Altitude",
    3322: "Load",
    3323: "Pressure",
    3324: "Loudness",
    3325: "Concentration",
    3326: "Acidity",
    3327: "Conductivity",
    3328: "Power",
    3329: "PowerFactor",
    3330: "Distance",
    3331: "Energy",
    3332: "Direction",
    3333: "Time",
    3334: "Gyrometer",
    3335: "Colour",
    3336: "Location",
    3337: "Positioner",
    3338: "Buzzer",
    3339: "AudioClip",
    3340: "Timer",
    3341: "AddressableTextDisplay",
    3342: "OnOffSwitch",
    3343: "Dimmer",
    3344: "UpDownControl",
    3345: "MultipleAxisJoystick",
    3346: "Rate",
    3347: "PushButton",
    3348: "MultiStateSelector",
    3349: "Bitmap",
    3350: "Stopwatch",
}

# resource id -> (name, unit) for objects 3 and 4
DEVICE_RESOURCES: dict[int, tuple[str, str]] = {
    0: ("Manufacturer", ""),
    1: ("ModelNumber", ""),
    2: ("SerialNumber", ""),
    3: ("FirmwareVersion", ""),
    6: ("AvailablePowerSources", ""),
    7: ("PowerSourceVoltage", "mV"),
    8: ("PowerSourceCurrent", "mA"),
    9: ("BatteryLevel", "%"),
    10: ("MemoryFree", "KiBy"),
    11: ("ErrorCode", ""),
    13: ("CurrentTime", "s"),
    14: ("UTCOffset", ""),
    15: ("Timezone", ""),
    16: ("SupportedBindingModes", ""),
    17: ("DeviceType", ""),
    18: ("HardwareVersion", ""),
    19: ("SoftwareVersion", ""),
    20: ("BatteryStatus", ""),
    21: ("MemoryTotal", "KiBy"),
}
CONNECTIVITY_RESOURCES: dict[int, tuple[str, str]] = {
    0: ("NetworkBearer", ""),
    1: ("AvailableNetworkBearer", ""),
    2: ("RadioSignalStrength", "dBm"),
    3: ("LinkQuality", ""),
    4: ("IPAddresses", ""),
    5: ("RouterIPAddresses", ""),
    6: ("LinkUtilization", "%"),
    7: ("APN", ""),
    8: ("CellID", ""),
    9: ("SMNC", ""),
    10: ("SMCC", ""),
    11: ("SignalSNR", "dB"),
    12: ("LAC", ""),
}
# IPSO reusable resources shared by objects 3300-3350
IPSO_RESOURCES: dict[int, str] = {
    5500: "DigitalInputState",
    5501: "DigitalInputCounter",
    5601: "MinMeasuredValue",
    5602: "MaxMeasuredValue",
    5603: "MinRangeValue",
    5604: "MaxRangeValue",
    5700: "SensorValue",
    5701: "SensorUnits",
    5702: "XValue",
    5703: "YValue",
    5704: "ZValue",
    5750: "ApplicationType",
    5800: "InstantaneousActivePower",
    5805: "CumulativeActivePower",
    5820: "Current",
    5821: "CurrentCalibration",
    5850: "OnOff",
    5851: "Dimmer",
    5852: "OnTime",
    5900: "SetPointValue",
    5906: "Duration",
    5920: "RemainingTime",
}
# default unit of an IPSO object's measured values (a device's own 5701 SensorUnits wins)
IPSO_UNITS: dict[int, str] = {
    3301: "lx",
    3303: "Cel",
    3304: "%RH",
    3315: "hPa",
    3316: "V",
    3317: "A",
    3318: "Hz",
    3319: "cm",
    3320: "%",
    3321: "m",
    3322: "kg",
    3323: "Pa",
    3324: "dB",
    3325: "ppm",
    3326: "pH",
    3327: "S/m",
    3328: "W",
    3330: "m",
    3331: "Wh",
    3332: "deg",
}
_VALUE_RESOURCES = frozenset({5601, 5602, 5603, 5604, 5700, 5702, 5703, 5704})


def resource_name_and_unit(
    object_id: int, resource_id: int, device_unit: str | None = None
) -> tuple[str, str]:
    """Metric name ``LwM2M.<Object>.<Resource>``; unknown parts stay as their ids."""
    object_name = OBJECTS.get(object_id, str(object_id))
    unit = ""
    if object_id == 3 and resource_id in DEVICE_RESOURCES:
        resource_name, unit = DEVICE_RESOURCES[resource_id]
    elif object_id == 4 and resource_id in CONNECTIVITY_RESOURCES:
        resource_name, unit = CONNECTIVITY_RESOURCES[resource_id]
    elif resource_id in IPSO_RESOURCES:
        resource_name = IPSO_RESOURCES[resource_id]
        if resource_id in _VALUE_RESOURCES:
            unit = device_unit or IPSO_UNITS.get(object_id, "")
    else:
        resource_name = str(resource_id)
    return f"LwM2M.{object_name}.{resource_name}", unit
