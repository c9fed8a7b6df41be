package otaprecv

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"github.com/open-telemetry/otel-arrow/go/pkg/otel/arrow_record"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func newProducer(t *testing.T) *arrow_record.Producer {
	t.Helper()
	p := arrow_record.NewProducer()
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func encodeMetrics(t *testing.T, p *arrow_record.Producer, md pmetric.Metrics) *arrowpb.BatchArrowRecords {
	t.Helper()
	bar, err := p.BatchArrowRecordsFromMetrics(md)
	if err != nil {
		t.Fatal(err)
	}
	return bar
}

func assertStatus(t *testing.T, bs *arrowpb.BatchStatus, id int64, code arrowpb.StatusCode) {
	t.Helper()
	if bs.GetBatchId() != id || bs.GetStatusCode() != code {
		t.Fatalf("status: got batch %d %v (%q), want batch %d %v",
			bs.GetBatchId(), bs.GetStatusCode(), bs.GetStatusMessage(), id, code)
	}
}

func TestArrowMetricsRoundTrip(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	_, conn := startReceiver(t, sink, nil)
	stream, err := arrowpb.NewArrowMetricsServiceClient(conn).ArrowMetrics(testContext(t))
	if err != nil {
		t.Fatal(err)
	}

	want := testMetrics(1)
	bar := encodeMetrics(t, newProducer(t), want)
	bs := exchange(t, stream, bar)
	assertStatus(t, bs, bar.BatchId, arrowpb.StatusCode_OK)

	if got := len(sink.AllMetrics()); got != 1 {
		t.Fatalf("sink got %d batches, want 1", got)
	}
	assertSameMetrics(t, want, sink.AllMetrics()[0])

	// Closing our side ends the stream cleanly.
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after CloseSend: got %v, want io.EOF", err)
	}
}

func TestArrowMetricsTwoBatchesOneStream(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	_, conn := startReceiver(t, sink, nil)
	stream, err := arrowpb.NewArrowMetricsServiceClient(conn).ArrowMetrics(testContext(t))
	if err != nil {
		t.Fatal(err)
	}

	p := newProducer(t)
	first, second := testMetrics(1), testMetrics(2)
	bar1 := encodeMetrics(t, p, first)
	bar2 := encodeMetrics(t, p, second) // same schema: no schema message in this batch
	if bar1.BatchId == bar2.BatchId {
		t.Fatalf("producer reused batch id %d", bar1.BatchId)
	}
	// Send both before reading any status.
	for _, bar := range []*arrowpb.BatchArrowRecords{bar1, bar2} {
		if err := stream.Send(bar); err != nil {
			t.Fatal(err)
		}
	}
	for _, bar := range []*arrowpb.BatchArrowRecords{bar1, bar2} {
		bs, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		assertStatus(t, bs, bar.BatchId, arrowpb.StatusCode_OK)
	}
	got := sink.AllMetrics()
	if len(got) != 2 {
		t.Fatalf("sink got %d batches, want 2", len(got))
	}
	assertSameMetrics(t, first, got[0])
	assertSameMetrics(t, second, got[1])
}

func TestArrowLogsRoundTrip(t *testing.T) {
	sink := new(consumertest.LogsSink)
	_, conn := startReceiver(t, nil, sink)
	stream, err := arrowpb.NewArrowLogsServiceClient(conn).ArrowLogs(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	want := testLogs()
	bar, err := newProducer(t).BatchArrowRecordsFromLogs(want)
	if err != nil {
		t.Fatal(err)
	}
	bs := exchange(t, stream, bar)
	assertStatus(t, bs, bar.BatchId, arrowpb.StatusCode_OK)
	if got := len(sink.AllLogs()); got != 1 {
		t.Fatalf("sink got %d batches, want 1", got)
	}
	assertSameLogs(t, want, sink.AllLogs()[0])
}

func TestArrowUndecodableBatch(t *testing.T) {
	logsBatch, err := newProducer(t).BatchArrowRecordsFromLogs(testLogs())
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]*arrowpb.ArrowPayload{
		// Caught by the framing check before the decoder runs.
		"garbage bytes": {{
			SchemaId: "garbage",
			Type:     arrowpb.ArrowPayloadType_UNIVARIATE_METRICS,
			Record:   []byte("this is not an Arrow IPC stream"),
		}},
		// Well-framed Arrow data of another signal: the decoder rejects it.
		"logs on the metrics stream": logsBatch.ArrowPayloads,
	}
	for name, payloads := range cases {
		t.Run(name, func(t *testing.T) {
			sink := new(consumertest.MetricsSink)
			_, conn := startReceiver(t, sink, nil)
			stream, err := arrowpb.NewArrowMetricsServiceClient(conn).ArrowMetrics(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			bs := exchange(t, stream, &arrowpb.BatchArrowRecords{BatchId: 42, ArrowPayloads: payloads})
			assertStatus(t, bs, 42, arrowpb.StatusCode_INVALID_ARGUMENT)
			if !strings.HasPrefix(bs.StatusMessage, "otap decode: ") {
				t.Errorf("status message %q lacks the decode error", bs.StatusMessage)
			}
			t.Logf("status message: %s", bs.StatusMessage)
			// The stream is then ended so that the client reconnects with fresh schemas.
			_, err = stream.Recv()
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("after undecodable batch: got %v, want code Unavailable", err)
			}
			if n := len(sink.AllMetrics()); n != 0 {
				t.Fatalf("sink got %d batches, want 0", n)
			}
		})
	}
}

func TestArrowConsumerErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want arrowpb.StatusCode
	}{
		{"permanent", consumererror.NewPermanent(errors.New("schema rejected")), arrowpb.StatusCode_INVALID_ARGUMENT},
		{"retryable", errors.New("queue is full"), arrowpb.StatusCode_UNAVAILABLE},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, conn := startReceiver(t, consumertest.NewErr(tc.err), nil)
			stream, err := arrowpb.NewArrowMetricsServiceClient(conn).ArrowMetrics(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			p := newProducer(t)
			// Two batches: the stream must stay open after a consumer error.
			for seed := 1; seed <= 2; seed++ {
				bar := encodeMetrics(t, p, testMetrics(seed))
				bs := exchange(t, stream, bar)
				assertStatus(t, bs, bar.BatchId, tc.want)
				if !strings.Contains(bs.StatusMessage, tc.err.Error()) {
					t.Errorf("status message %q does not contain %q", bs.StatusMessage, tc.err.Error())
				}
			}
		})
	}
}

func TestArrowStreamEndsAtShutdown(t *testing.T) {
	r, conn := startReceiver(t, new(consumertest.MetricsSink), nil)
	stream, err := arrowpb.NewArrowMetricsServiceClient(conn).ArrowMetrics(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	bar := encodeMetrics(t, newProducer(t), testMetrics(1))
	if err := stream.Send(bar); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}

	// The client stays idle with its stream open; Shutdown must not wait for
	// the grace period.
	start := time.Now()
	if err := r.Shutdown(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > shutdownGrace/2 {
		t.Errorf("shutdown took %v", d)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("after shutdown: got %v, want code Unavailable", err)
	}
}
