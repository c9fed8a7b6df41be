package otaprecv

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

func TestDefaultConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if cfg.NetAddr.Endpoint != "localhost:4319" || cfg.NetAddr.Transport != "tcp" {
		t.Errorf("default endpoint: %q/%q", cfg.NetAddr.Transport, cfg.NetAddr.Endpoint)
	}
	if cfg.MemoryLimitMiB != 128 {
		t.Errorf("default memory_limit_mib: %d", cfg.MemoryLimitMiB)
	}
	if err := confmap.Validate(cfg); err != nil {
		t.Errorf("default config invalid: %v", err)
	}
}

func TestUnmarshalConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	conf := confmap.NewFromStringMap(map[string]any{
		"endpoint":              "0.0.0.0:14319",
		"max_recv_msg_size_mib": 64,
		"memory_limit_mib":      256,
		"keepalive": map[string]any{
			"server_parameters": map[string]any{"max_connection_age": "30s"},
		},
	})
	if err := conf.Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.NetAddr.Endpoint != "0.0.0.0:14319" || cfg.MaxRecvMsgSizeMiB != 64 || cfg.MemoryLimitMiB != 256 {
		t.Errorf("unexpected config %+v", cfg)
	}
	if cfg.memoryLimitBytes() != 256<<20 {
		t.Errorf("memory limit bytes: %d", cfg.memoryLimitBytes())
	}
	if !cfg.Keepalive.HasValue() || cfg.Keepalive.Get().ServerParameters.Get().MaxConnectionAge.Seconds() != 30 {
		t.Errorf("keepalive not applied")
	}
	if err := confmap.Validate(cfg); err != nil {
		t.Errorf("config invalid: %v", err)
	}

	if err := confmap.NewFromStringMap(map[string]any{"no_such_key": 1}).Unmarshal(cfg); err == nil {
		t.Error("unknown key accepted")
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"zero memory limit", func(c *Config) { c.MemoryLimitMiB = 0 }, "memory_limit_mib must be greater than 0, got 0"},
		{"negative memory limit", func(c *Config) { c.MemoryLimitMiB = -5 }, "memory_limit_mib must be greater than 0, got -5"},
		{"huge memory limit", func(c *Config) { c.MemoryLimitMiB = maxMemoryLimitMiB + 1 }, "memory_limit_mib must be at most"},
		{"empty endpoint", func(c *Config) { c.NetAddr.Endpoint = "" }, "endpoint must not be empty"},
		{"negative max_recv_msg_size_mib", func(c *Config) { c.MaxRecvMsgSizeMiB = -1 }, "max_recv_msg_size_mib"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig().(*Config)
			tc.mutate(cfg)
			err := confmap.Validate(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSharedReceiverLifecycle(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	set := receivertest.NewNopSettings(componentType)
	ctx := context.Background()

	mr, err := f.CreateMetrics(ctx, set, cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	lr, err := f.CreateLogs(ctx, set, cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if mr != lr {
		t.Fatal("metrics and logs receivers with one ID and config must be the same instance")
	}

	// Shutdown without Start is fine and frees the ID.
	if err := mr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mr2, err := f.CreateMetrics(ctx, set, cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if mr2 == mr {
		t.Fatal("a shut down receiver was reused")
	}

	// Start twice (once per signal), shut down twice.
	lr2, err := f.CreateLogs(ctx, set, cfg, consumertest.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	host := componenttest.NewNopHost()
	if err := mr2.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := lr2.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := mr2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lr2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
