package otaprecv

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The Arrow IPC reader allocates a message's metadata buffer from the length
// prefix it reads, before reading the bytes, so a few garbage bytes can make
// it allocate up to 2 GiB (and a "negative" length makes it panic). The
// payloads of a BatchArrowRecords are complete in memory, so before decoding
// we walk their IPC message framing and reject any length that points past
// the end of the payload.

const ipcContinuation = 0xFFFFFFFF

// checkIPCFraming checks that payload is a sequence of complete Arrow IPC
// stream messages: [0xFFFFFFFF] <int32 metadata length> <metadata> <body>,
// optionally ended by an end-of-stream marker.
func checkIPCFraming(payload []byte) error {
	for off := 0; off < len(payload); {
		n, ok := readUint32(payload, off)
		if !ok {
			return fmt.Errorf("truncated IPC message prefix at offset %d", off)
		}
		off += 4
		if n == ipcContinuation {
			if n, ok = readUint32(payload, off); !ok {
				return fmt.Errorf("truncated IPC message length at offset %d", off)
			}
			off += 4
		}
		if n == 0 {
			return nil // end-of-stream marker
		}
		left := len(payload) - off
		if n > math.MaxInt32 || int(n) > left {
			return fmt.Errorf("IPC message metadata length %d at offset %d exceeds the %d bytes left", int32(n), off-4, left)
		}
		meta := payload[off : off+int(n)]
		off += int(n)
		body, err := messageBodyLength(meta)
		if err != nil {
			return err
		}
		if left = len(payload) - off; body < 0 || body > int64(left) {
			return fmt.Errorf("IPC message body length %d exceeds the %d bytes left", body, left)
		}
		off += int(body)
	}
	return nil
}

// messageBodyLength reads Message.bodyLength (field 3, vtable slot 10) from
// the flatbuffer metadata of one IPC message, with bounds checks throughout.
func messageBodyLength(meta []byte) (int64, error) {
	bad := fmt.Errorf("malformed IPC message metadata (%d bytes)", len(meta))
	root, ok := readUint32(meta, 0)
	if !ok || int64(root)+4 > int64(len(meta)) {
		return 0, bad
	}
	table := int64(root)
	soff, _ := readUint32(meta, int(table))
	vtable := table - int64(int32(soff))
	if vtable < 0 || vtable+4 > int64(len(meta)) {
		return 0, bad
	}
	vtSize := int64(binary.LittleEndian.Uint16(meta[vtable:]))
	const slot = 10
	if vtSize < slot+2 {
		return 0, nil // field absent: no body
	}
	if vtable+slot+2 > int64(len(meta)) {
		return 0, bad
	}
	fieldOff := int64(binary.LittleEndian.Uint16(meta[vtable+slot:]))
	if fieldOff == 0 {
		return 0, nil
	}
	pos := table + fieldOff
	if pos+8 > int64(len(meta)) {
		return 0, bad
	}
	return int64(binary.LittleEndian.Uint64(meta[pos:])), nil
}

func readUint32(b []byte, off int) (uint32, bool) {
	if off < 0 || len(b)-off < 4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b[off:]), true
}
