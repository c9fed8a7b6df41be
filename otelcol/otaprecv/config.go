// Package otaprecv is a small OpenTelemetry Collector receiver that accepts
// OTel-Arrow (OTAP) streams for metrics and logs, plus plain OTLP/gRPC
// metrics and logs, on a single gRPC endpoint.
package otaprecv

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
)

const (
	defaultEndpoint       = "localhost:4319"
	defaultMemoryLimitMiB = 128
	// maxMemoryLimitMiB keeps memory_limit_mib<<20 far from overflowing and
	// rejects obvious typos (1 TiB per stream is not a sensible limit).
	maxMemoryLimitMiB = 1 << 20
)

// Config is the configuration of the otap receiver.
type Config struct {
	// ServerConfig is the gRPC server configuration (endpoint, transport,
	// max_recv_msg_size_mib, tls, keepalive, auth, ...), with the same keys
	// as the OTLP receiver's protocols::grpc section.
	configgrpc.ServerConfig `mapstructure:",squash"`

	// MemoryLimitMiB bounds the memory of the Arrow decoder allocator of
	// each stream, in MiB.
	MemoryLimitMiB int `mapstructure:"memory_limit_mib"`
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	grpcCfg := configgrpc.NewDefaultServerConfig()
	grpcCfg.NetAddr.Endpoint = defaultEndpoint
	// Arrow batches are large; mirror the OTLP receiver's read buffer.
	grpcCfg.ReadBufferSize = 512 * 1024
	return &Config{
		ServerConfig:   grpcCfg,
		MemoryLimitMiB: defaultMemoryLimitMiB,
	}
}

// Validate checks the receiver-specific settings. The embedded
// configgrpc.ServerConfig is validated separately by the collector
// (confmap.Validate walks embedded structs), so it is not repeated here.
func (c *Config) Validate() error {
	var errs []error
	if c.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint must not be empty (e.g. \"localhost:4319\")"))
	}
	if c.MemoryLimitMiB <= 0 {
		errs = append(errs, fmt.Errorf("memory_limit_mib must be greater than 0, got %d", c.MemoryLimitMiB))
	} else if c.MemoryLimitMiB > maxMemoryLimitMiB {
		errs = append(errs, fmt.Errorf("memory_limit_mib must be at most %d, got %d", maxMemoryLimitMiB, c.MemoryLimitMiB))
	}
	return errors.Join(errs...)
}

// memoryLimitBytes is the Arrow allocator limit for one stream.
func (c *Config) memoryLimitBytes() uint64 {
	return uint64(c.MemoryLimitMiB) << 20
}
