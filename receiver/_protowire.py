"""Protocol Buffers wire-format pieces shared by the hand-written codecs (decode shapes, OTLP
encoders): kept in one place so they agree byte for byte."""


def varint(value: int) -> bytes:
    """Base-128 varint of a non-negative integer (low 7 bits first, high bit: more follows)."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
