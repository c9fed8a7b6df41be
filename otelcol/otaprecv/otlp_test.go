package otaprecv

import (
	"errors"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestOTLPMetricsAndLogsOnSameEndpoint(t *testing.T) {
	msink, lsink := new(consumertest.MetricsSink), new(consumertest.LogsSink)
	_, conn := startReceiver(t, msink, lsink)
	ctx := testContext(t)

	// A histogram, which our Python exporter sends as plain OTLP.
	md := testMetrics(3)
	h := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	h.SetName("request.duration")
	dp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
	dp.SetCount(3)
	dp.SetSum(0.75)
	dp.ExplicitBounds().FromRaw([]float64{0.1, 0.5})
	dp.BucketCounts().FromRaw([]uint64{1, 1, 1})

	if _, err := pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(md)); err != nil {
		t.Fatal(err)
	}
	if got := msink.DataPointCount(); got != md.DataPointCount() {
		t.Fatalf("metrics sink got %d points, want %d", got, md.DataPointCount())
	}
	got := msink.AllMetrics()[0]
	if got.MetricCount() != md.MetricCount() {
		t.Fatalf("metrics sink got %d metrics, want %d", got.MetricCount(), md.MetricCount())
	}
	if gh := got.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(3); gh.Type() != pmetric.MetricTypeHistogram || gh.Histogram().DataPoints().At(0).Count() != 3 {
		t.Fatalf("histogram did not survive: %v", gh.Type())
	}

	ld := testLogs()
	if _, err := plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(ld)); err != nil {
		t.Fatal(err)
	}
	if len(lsink.AllLogs()) != 1 {
		t.Fatalf("logs sink got %d batches, want 1", len(lsink.AllLogs()))
	}
	assertSameLogs(t, ld, lsink.AllLogs()[0])
}

func TestOTLPConsumerErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"permanent", consumererror.NewPermanent(errors.New("bad data")), codes.InvalidArgument},
		{"retryable", errors.New("try later"), codes.Unavailable},
		{"grpc status kept", status.Error(codes.ResourceExhausted, "memory limit"), codes.ResourceExhausted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, conn := startReceiver(t, consumertest.NewErr(tc.err), consumertest.NewErr(tc.err))
			ctx := testContext(t)
			_, err := pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(testMetrics(1)))
			if status.Code(err) != tc.want {
				t.Errorf("metrics: got %v, want %v", err, tc.want)
			}
			_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(testLogs()))
			if status.Code(err) != tc.want {
				t.Errorf("logs: got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestOnlyConfiguredSignalsAreServed(t *testing.T) {
	_, conn := startReceiver(t, new(consumertest.MetricsSink), nil)
	_, err := plogotlp.NewGRPCClient(conn).Export(testContext(t), plogotlp.NewExportRequestFromLogs(testLogs()))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("logs export without a logs pipeline: got %v, want Unimplemented", err)
	}
}
