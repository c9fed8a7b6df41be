package otaprecv

import (
	"context"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const formatProtobuf = "protobuf"

// otlpMetricsService is the plain OTLP/gRPC MetricsService.
type otlpMetricsService struct {
	pmetricotlp.UnimplementedGRPCServer
	r *otapReceiver
}

func (s *otlpMetricsService) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	md := req.Metrics()
	n := md.DataPointCount()
	if n == 0 {
		return pmetricotlp.NewExportResponse(), nil
	}
	ctx = s.r.obsOTLP.StartMetricsOp(ctx)
	err := s.r.nextMetrics.ConsumeMetrics(ctx, md)
	s.r.obsOTLP.EndMetricsOp(ctx, formatProtobuf, n, err)
	if err != nil {
		return pmetricotlp.NewExportResponse(), grpcStatusFromConsumerError(err)
	}
	return pmetricotlp.NewExportResponse(), nil
}

// otlpLogsService is the plain OTLP/gRPC LogsService.
type otlpLogsService struct {
	plogotlp.UnimplementedGRPCServer
	r *otapReceiver
}

func (s *otlpLogsService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	ld := req.Logs()
	n := ld.LogRecordCount()
	if n == 0 {
		return plogotlp.NewExportResponse(), nil
	}
	ctx = s.r.obsOTLP.StartLogsOp(ctx)
	err := s.r.nextLogs.ConsumeLogs(ctx, ld)
	s.r.obsOTLP.EndLogsOp(ctx, formatProtobuf, n, err)
	if err != nil {
		return plogotlp.NewExportResponse(), grpcStatusFromConsumerError(err)
	}
	return plogotlp.NewExportResponse(), nil
}

// consumerErrorCode maps a next-consumer error to a gRPC code: an error that
// already carries a gRPC status keeps it, a permanent error is not retryable
// (InvalidArgument), anything else is retryable (Unavailable).
func consumerErrorCode(err error) (codes.Code, string) {
	if s, ok := status.FromError(err); ok {
		return s.Code(), s.Message()
	}
	if consumererror.IsPermanent(err) {
		return codes.InvalidArgument, err.Error()
	}
	return codes.Unavailable, err.Error()
}

func grpcStatusFromConsumerError(err error) error {
	code, msg := consumerErrorCode(err)
	return status.Error(code, msg)
}
