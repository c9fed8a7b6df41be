package otaprecv

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

var receiverSeq atomic.Int64

// startReceiver starts the component on 127.0.0.1:0 with the given next
// consumers (nil skips a signal) and returns a client connection to it.
func startReceiver(t *testing.T, metrics consumer.Metrics, logs consumer.Logs) (*otapReceiver, *grpc.ClientConn) {
	t.Helper()
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	set := receivertest.NewNopSettings(componentType)
	set.ID = component.MustNewIDWithName(componentType.String(), fmt.Sprintf("t%d", receiverSeq.Add(1)))

	var r *otapReceiver
	if metrics != nil {
		mr, err := f.CreateMetrics(context.Background(), set, cfg, metrics)
		if err != nil {
			t.Fatal(err)
		}
		r = mr.(*otapReceiver)
	}
	if logs != nil {
		lr, err := f.CreateLogs(context.Background(), set, cfg, logs)
		if err != nil {
			t.Fatal(err)
		}
		if r != nil && lr.(*otapReceiver) != r {
			t.Fatal("metrics and logs receivers of one component ID must share one server")
		}
		r = lr.(*otapReceiver)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})

	conn, err := grpc.NewClient(r.addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return r, conn
}

// batchClient is the client side of an ArrowMetrics or ArrowLogs stream.
type batchClient interface {
	Send(*arrowpb.BatchArrowRecords) error
	Recv() (*arrowpb.BatchStatus, error)
}

// exchange sends one batch on stream and returns the status that answers it.
func exchange(t *testing.T, stream batchClient, bar *arrowpb.BatchArrowRecords) *arrowpb.BatchStatus {
	t.Helper()
	if err := stream.Send(bar); err != nil {
		t.Fatal(err)
	}
	bs, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var testStart = pcommon.NewTimestampFromTime(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))

// testMetrics builds two resources with attributes, each with an int gauge,
// a double gauge and a monotonic cumulative sum of several points; seed
// varies the values.
func testMetrics(seed int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for ri := 0; ri < 2; ri++ {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", ri))
		rm.Resource().Attributes().PutInt("host.index", int64(ri))
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName("otaprecv-test")
		sm.Scope().SetVersion("1.0")

		g := sm.Metrics().AppendEmpty()
		g.SetName("queue.depth")
		g.SetUnit("1")
		gauge := g.SetEmptyGauge()
		for i := 0; i < 3; i++ {
			dp := gauge.DataPoints().AppendEmpty()
			dp.SetTimestamp(testStart + pcommon.Timestamp(i*1e9))
			dp.SetIntValue(int64(seed*100 + ri*10 + i))
			dp.Attributes().PutStr("queue", fmt.Sprintf("q%d", i))
		}

		dg := sm.Metrics().AppendEmpty()
		dg.SetName("cpu.temperature")
		dg.SetUnit("Cel")
		dgauge := dg.SetEmptyGauge()
		for i := 0; i < 2; i++ {
			dp := dgauge.DataPoints().AppendEmpty()
			dp.SetTimestamp(testStart + pcommon.Timestamp(i*1e9))
			dp.SetDoubleValue(float64(seed) + 40.5 + float64(ri) + float64(i)/4)
		}

		s := sm.Metrics().AppendEmpty()
		s.SetName("requests.total")
		sum := s.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for i := 0; i < 4; i++ {
			dp := sum.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(testStart)
			dp.SetTimestamp(testStart + pcommon.Timestamp((i+1)*1e9))
			dp.SetIntValue(int64(seed*1000 + i*7))
			dp.Attributes().PutStr("route", "/v1/items")
			dp.Attributes().PutInt("status", 200)
		}
	}
	return md
}

func testLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "api")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("otaprecv-test")
	for i := 0; i < 2; i++ {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(testStart + pcommon.Timestamp(i*1e6))
		lr.SetObservedTimestamp(testStart + pcommon.Timestamp(i*1e6+5))
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetSeverityText("WARN")
		lr.Body().SetStr(fmt.Sprintf("disk almost full (%d)", i))
		lr.Attributes().PutStr("disk", "/dev/sda1")
		lr.Attributes().PutDouble("used.ratio", 0.91+float64(i)/100)
	}
	return ld
}

// pointKey identifies a data point in a pmetric.Metrics independently of the
// order of resources, metrics and points.
type pointKey struct {
	resource string
	metric   string
	typ      pmetric.MetricType
	attrs    string
	start    pcommon.Timestamp
	ts       pcommon.Timestamp
}

type pointValue struct {
	intVal    int64
	doubleVal float64
	monotonic bool
	temporal  pmetric.AggregationTemporality
}

// flattenPoints indexes the number data points of md; it fails the test on
// duplicate keys, which would make the comparison ambiguous.
func flattenPoints(t *testing.T, md pmetric.Metrics) map[pointKey]pointValue {
	t.Helper()
	out := map[pointKey]pointValue{}
	add := func(k pointKey, dp pmetric.NumberDataPoint, v pointValue) {
		k.attrs = canonicalAttrs(dp.Attributes())
		k.start, k.ts = dp.StartTimestamp(), dp.Timestamp()
		switch dp.ValueType() {
		case pmetric.NumberDataPointValueTypeInt:
			v.intVal = dp.IntValue()
		case pmetric.NumberDataPointValueTypeDouble:
			v.doubleVal = dp.DoubleValue()
		}
		if _, dup := out[k]; dup {
			t.Fatalf("duplicate point %+v", k)
		}
		out[k] = v
	}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		res := canonicalAttrs(rm.Resource().Attributes())
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			scope := sm.Scope().Name() + "@" + sm.Scope().Version()
			for k := 0; k < sm.Metrics().Len(); k++ {
				m := sm.Metrics().At(k)
				key := pointKey{resource: res + "|" + scope, metric: m.Name() + "[" + m.Unit() + "]", typ: m.Type()}
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					for p := 0; p < m.Gauge().DataPoints().Len(); p++ {
						add(key, m.Gauge().DataPoints().At(p), pointValue{})
					}
				case pmetric.MetricTypeSum:
					v := pointValue{monotonic: m.Sum().IsMonotonic(), temporal: m.Sum().AggregationTemporality()}
					for p := 0; p < m.Sum().DataPoints().Len(); p++ {
						add(key, m.Sum().DataPoints().At(p), v)
					}
				default:
					t.Fatalf("unexpected metric type %v", m.Type())
				}
			}
		}
	}
	return out
}

func canonicalAttrs(m pcommon.Map) string {
	// AsRaw + fmt prints maps with sorted keys.
	return fmt.Sprint(m.AsRaw())
}

func assertSameMetrics(t *testing.T, want, got pmetric.Metrics) {
	t.Helper()
	if got.DataPointCount() != want.DataPointCount() {
		t.Fatalf("data points: got %d, want %d", got.DataPointCount(), want.DataPointCount())
	}
	if got.MetricCount() != want.MetricCount() {
		t.Fatalf("metrics: got %d, want %d", got.MetricCount(), want.MetricCount())
	}
	wp, gp := flattenPoints(t, want), flattenPoints(t, got)
	for k, wv := range wp {
		gv, ok := gp[k]
		if !ok {
			t.Errorf("missing point %+v", k)
			continue
		}
		if gv != wv {
			t.Errorf("point %+v: got %+v, want %+v", k, gv, wv)
		}
	}
}

type logKey struct {
	resource, scope, body, severity, attrs string
	ts, observed                           pcommon.Timestamp
	sevNum                                 plog.SeverityNumber
}

func flattenLogs(ld plog.Logs) map[logKey]int {
	out := map[logKey]int{}
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			for k := 0; k < sl.LogRecords().Len(); k++ {
				lr := sl.LogRecords().At(k)
				out[logKey{
					resource: canonicalAttrs(rl.Resource().Attributes()),
					scope:    sl.Scope().Name(),
					body:     lr.Body().AsString(),
					severity: lr.SeverityText(),
					attrs:    canonicalAttrs(lr.Attributes()),
					ts:       lr.Timestamp(),
					observed: lr.ObservedTimestamp(),
					sevNum:   lr.SeverityNumber(),
				}]++
			}
		}
	}
	return out
}

func assertSameLogs(t *testing.T, want, got plog.Logs) {
	t.Helper()
	if got.LogRecordCount() != want.LogRecordCount() {
		t.Fatalf("log records: got %d, want %d", got.LogRecordCount(), want.LogRecordCount())
	}
	wl, gl := flattenLogs(want), flattenLogs(got)
	for k, n := range wl {
		if gl[k] != n {
			t.Errorf("log record %+v: got %d, want %d", k, gl[k], n)
		}
	}
}
