package otaprecv

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// shutdownGrace bounds grpc.Server.GracefulStop before falling back to Stop.
const shutdownGrace = 5 * time.Second

// otapReceiver owns one gRPC server serving the Arrow and OTLP services of
// the signals that have a next consumer. It is shared by the metrics and logs
// receivers created for one component ID.
type otapReceiver struct {
	cfg *Config
	set receiver.Settings

	nextMetrics consumer.Metrics
	nextLogs    consumer.Logs

	obsOTLP  *receiverhelper.ObsReport // transport "grpc"
	obsArrow *receiverhelper.ObsReport // transport "arrow"

	startOnce sync.Once
	startErr  error
	stopOnce  sync.Once

	server   *grpc.Server
	addr     net.Addr      // listening address, set by Start
	stopping chan struct{} // closed at Shutdown: ends open Arrow streams
	serveWG  sync.WaitGroup

	onShutdown func()
}

func newReceiver(cfg *Config, set receiver.Settings) (*otapReceiver, error) {
	obsOTLP, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "grpc",
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	obsArrow, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{
		ReceiverID:             set.ID,
		Transport:              "arrow",
		LongLivedCtx:           true, // one stream context spans many batches
		ReceiverCreateSettings: set,
	})
	if err != nil {
		return nil, err
	}
	return &otapReceiver{
		cfg:      cfg,
		set:      set,
		obsOTLP:  obsOTLP,
		obsArrow: obsArrow,
		stopping: make(chan struct{}),
	}, nil
}

// Start starts the shared gRPC server; later calls (from the other signal's
// receiver) return the first call's result.
func (r *otapReceiver) Start(ctx context.Context, host component.Host) error {
	r.startOnce.Do(func() { r.startErr = r.start(ctx, host) })
	return r.startErr
}

func (r *otapReceiver) start(ctx context.Context, host component.Host) error {
	server, err := r.cfg.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings)
	if err != nil {
		return err
	}
	if r.nextMetrics != nil {
		arrowpb.RegisterArrowMetricsServiceServer(server, &arrowMetricsService{r: r})
		pmetricotlp.RegisterGRPCServer(server, &otlpMetricsService{r: r})
	}
	if r.nextLogs != nil {
		arrowpb.RegisterArrowLogsServiceServer(server, &arrowLogsService{r: r})
		plogotlp.RegisterGRPCServer(server, &otlpLogsService{r: r})
	}

	ln, err := r.cfg.NetAddr.Listen(ctx)
	if err != nil {
		server.Stop()
		return err
	}
	r.server = server
	r.addr = ln.Addr()
	r.set.Logger.Info("Starting OTAP/OTLP gRPC server", zap.String("endpoint", ln.Addr().String()))

	r.serveWG.Add(1)
	go func() {
		defer r.serveWG.Done()
		if err := server.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

// Shutdown stops the server: open Arrow streams are told to end, then
// GracefulStop gets shutdownGrace (or until ctx is done) before a hard Stop.
// It is safe to call without a prior Start and more than once.
func (r *otapReceiver) Shutdown(ctx context.Context) error {
	r.stopOnce.Do(func() {
		close(r.stopping)
		if r.server != nil {
			done := make(chan struct{})
			go func() {
				r.server.GracefulStop()
				close(done)
			}()
			timer := time.NewTimer(shutdownGrace)
			defer timer.Stop()
			select {
			case <-done:
			case <-timer.C:
				r.server.Stop()
				<-done
			case <-ctx.Done():
				r.server.Stop()
				<-done
			}
			r.serveWG.Wait()
		}
		if r.onShutdown != nil {
			r.onShutdown()
		}
	})
	return nil
}
