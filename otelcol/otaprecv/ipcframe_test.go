package otaprecv

import (
	"strings"
	"testing"
)

func TestCheckIPCFraming(t *testing.T) {
	p := newProducer(t)
	first := encodeMetrics(t, p, testMetrics(1))  // schema + dictionaries + batch
	second := encodeMetrics(t, p, testMetrics(2)) // schema reused
	for _, bar := range [][]byte{first.ArrowPayloads[0].Record, second.ArrowPayloads[0].Record} {
		if err := checkIPCFraming(bar); err != nil {
			t.Fatalf("valid payload rejected: %v", err)
		}
	}
	for i, pl := range first.ArrowPayloads {
		if err := checkIPCFraming(pl.Record); err != nil {
			t.Fatalf("valid payload %d (%v) rejected: %v", i, pl.Type, err)
		}
	}

	valid := first.ArrowPayloads[0].Record
	cases := map[string][]byte{
		"text":               []byte("this is not an Arrow IPC stream"),
		"huge length":        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
		"negative length":    {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80},
		"short prefix":       {0xff, 0xff},
		"garbage metadata":   {0xff, 0xff, 0xff, 0xff, 0x08, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef},
		"truncated body":     valid[:len(valid)-1],
		"truncated metadata": valid[:12],
	}
	for name, b := range cases {
		if err := checkIPCFraming(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "IPC") {
			t.Errorf("%s: unclear error %v", name, err)
		}
	}
	if err := checkIPCFraming([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}); err != nil {
		t.Errorf("end-of-stream marker rejected: %v", err)
	}
}
