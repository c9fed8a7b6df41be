package otaprecv

import (
	"context"
	"errors"
	"fmt"
	"io"

	arrowpb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	"github.com/open-telemetry/otel-arrow/go/pkg/otel/arrow_record"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const formatArrow = "arrow"

// batchStream is the part of the generated ArrowMetrics/ArrowLogs server
// streams that the handler uses.
type batchStream interface {
	Send(*arrowpb.BatchStatus) error
	Recv() (*arrowpb.BatchArrowRecords, error)
	Context() context.Context
}

// consumeFunc decodes one batch with the stream's decoder and passes the
// result to the next consumer. Decoding failures are returned as *decodeError.
type consumeFunc func(ctx context.Context, dec *arrow_record.Consumer, bar *arrowpb.BatchArrowRecords) error

type arrowMetricsService struct {
	arrowpb.UnimplementedArrowMetricsServiceServer
	r *otapReceiver
}

func (s *arrowMetricsService) ArrowMetrics(stream arrowpb.ArrowMetricsService_ArrowMetricsServer) error {
	return s.r.serveArrowStream(stream, s.r.consumeArrowMetrics)
}

type arrowLogsService struct {
	arrowpb.UnimplementedArrowLogsServiceServer
	r *otapReceiver
}

func (s *arrowLogsService) ArrowLogs(stream arrowpb.ArrowLogsService_ArrowLogsServer) error {
	return s.r.serveArrowStream(stream, s.r.consumeArrowLogs)
}

// serveArrowStream runs one Arrow stream: each received batch is decoded and
// consumed, then answered with a BatchStatus, strictly in order of receipt.
// The Arrow decoder (IPC readers, dictionaries) lives exactly as long as the
// stream.
func (r *otapReceiver) serveArrowStream(stream batchStream, consume consumeFunc) error {
	ctx := stream.Context()
	dec := arrow_record.NewConsumer(
		arrow_record.WithMemoryLimit(r.cfg.memoryLimitBytes()),
		arrow_record.WithMeterProvider(r.set.MeterProvider),
	)
	defer func() {
		if err := dec.Close(); err != nil {
			r.set.Logger.Debug("closing arrow decoder", zap.Error(err))
		}
	}()

	// Recv runs in its own goroutine so that Shutdown can end a stream whose
	// client is idle. Only this goroutine calls Recv; it exits when Recv
	// fails, which happens at the latest when the handler returns and gRPC
	// cancels the stream.
	batches := make(chan *arrowpb.BatchArrowRecords)
	recvErrs := make(chan error, 1)
	go func() {
		for {
			bar, err := stream.Recv()
			if err != nil {
				recvErrs <- err
				return
			}
			select {
			case batches <- bar:
			case <-ctx.Done():
				return
			}
		}
	}()

	for {
		var bar *arrowpb.BatchArrowRecords
		select {
		case bar = <-batches:
		case err := <-recvErrs:
			if errors.Is(err, io.EOF) {
				return nil // client closed its side; every batch has been answered
			}
			return err
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-r.stopping:
			return status.Error(codes.Unavailable, "otap receiver is shutting down")
		}

		bs, streamErr := r.processBatch(ctx, dec, bar, consume)
		if err := stream.Send(bs); err != nil {
			return err
		}
		if streamErr != nil {
			return streamErr
		}
	}
}

// processBatch returns the BatchStatus answering bar and, when the stream
// cannot continue, the gRPC error that ends it.
func (r *otapReceiver) processBatch(ctx context.Context, dec *arrow_record.Consumer, bar *arrowpb.BatchArrowRecords, consume consumeFunc) (*arrowpb.BatchStatus, error) {
	bs := &arrowpb.BatchStatus{BatchId: bar.GetBatchId(), StatusCode: arrowpb.StatusCode_OK}
	err := consume(ctx, dec, bar)
	if err == nil {
		return bs, nil
	}

	var de *decodeError
	if errors.As(err, &de) {
		// The decoder's IPC readers may hold partial schema/dictionary state
		// now, so later batches of this stream cannot be trusted to decode:
		// answer this batch, then end the stream so that the client
		// reconnects and re-sends its schemas. Unavailable lets the client
		// retry whatever it had sent after this batch.
		bs.StatusCode = arrowpb.StatusCode_INVALID_ARGUMENT
		if errors.Is(de.err, arrow_record.ErrConsumerMemoryLimit) {
			bs.StatusCode = arrowpb.StatusCode_RESOURCE_EXHAUSTED
		}
		bs.StatusMessage = "otap decode: " + de.err.Error()
		r.set.Logger.Warn("undecodable arrow batch, ending stream",
			zap.Int64("batch_id", bar.GetBatchId()), zap.Error(de.err))
		return bs, status.Errorf(codes.Unavailable,
			"arrow stream ended after undecodable batch %d; reconnect to reset schemas", bar.GetBatchId())
	}

	code, msg := consumerErrorCode(err)
	if _, known := arrowpb.StatusCode_name[int32(code)]; !known || code == codes.OK {
		code = codes.Unavailable
	}
	bs.StatusCode = arrowpb.StatusCode(code)
	bs.StatusMessage = msg
	r.set.Logger.Debug("next consumer refused arrow batch",
		zap.Int64("batch_id", bar.GetBatchId()), zap.Stringer("code", code), zap.Error(err))
	return bs, nil
}

func (r *otapReceiver) consumeArrowMetrics(ctx context.Context, dec *arrow_record.Consumer, bar *arrowpb.BatchArrowRecords) error {
	var mds []pmetric.Metrics
	if err := decode(bar, func() (err error) { mds, err = dec.MetricsFrom(bar); return err }); err != nil {
		return err
	}
	for _, md := range mds {
		n := md.DataPointCount()
		if n == 0 {
			continue
		}
		opCtx := r.obsArrow.StartMetricsOp(ctx)
		err := r.nextMetrics.ConsumeMetrics(opCtx, md)
		r.obsArrow.EndMetricsOp(opCtx, formatArrow, n, err)
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *otapReceiver) consumeArrowLogs(ctx context.Context, dec *arrow_record.Consumer, bar *arrowpb.BatchArrowRecords) error {
	var lds []plog.Logs
	if err := decode(bar, func() (err error) { lds, err = dec.LogsFrom(bar); return err }); err != nil {
		return err
	}
	for _, ld := range lds {
		n := ld.LogRecordCount()
		if n == 0 {
			continue
		}
		opCtx := r.obsArrow.StartLogsOp(ctx)
		err := r.nextLogs.ConsumeLogs(opCtx, ld)
		r.obsArrow.EndLogsOp(opCtx, formatArrow, n, err)
		if err != nil {
			return err
		}
	}
	return nil
}

// decodeError marks a failure to decode a batch (as opposed to a failure of
// the next consumer).
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// decode checks the IPC framing of bar's payloads, then runs the decoding
// function f; a framing error, an error of f or a panic of the decoder on
// malformed input becomes a *decodeError.
func decode(bar *arrowpb.BatchArrowRecords, f func() error) (err error) {
	for i, p := range bar.GetArrowPayloads() {
		if e := checkIPCFraming(p.GetRecord()); e != nil {
			return &decodeError{err: fmt.Errorf("payload %d (%v): %w", i, p.GetType(), e)}
		}
	}
	defer func() {
		if p := recover(); p != nil {
			err = &decodeError{err: fmt.Errorf("decoder panic: %v", p)}
		}
	}()
	if e := f(); e != nil {
		return &decodeError{err: e}
	}
	return nil
}
