package otaprecv

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

// componentType is the name of the receiver in collector configurations.
var componentType = component.MustNewType("otap")

const stability = component.StabilityLevelAlpha

// NewFactory returns the factory of the otap receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		componentType,
		createDefaultConfig,
		receiver.WithMetrics(createMetrics, stability),
		receiver.WithLogs(createLogs, stability),
	)
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	r, err := receivers.getOrCreate(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	r.nextMetrics = next
	return r, nil
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	r, err := receivers.getOrCreate(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	r.nextLogs = next
	return r, nil
}

// receivers holds one receiver (one gRPC server) per component ID, so that a
// metrics pipeline and a logs pipeline using the same "otap" receiver share
// one listener. An entry is removed when its receiver shuts down, so a
// reloaded configuration gets a fresh receiver.
var receivers = &sharedReceivers{m: map[component.ID]*otapReceiver{}}

type sharedReceivers struct {
	mu sync.Mutex
	m  map[component.ID]*otapReceiver
}

func (s *sharedReceivers) getOrCreate(set receiver.Settings, cfg *Config) (*otapReceiver, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.m[set.ID]; ok && r.cfg == cfg {
		return r, nil
	}
	r, err := newReceiver(cfg, set)
	if err != nil {
		return nil, err
	}
	id := set.ID
	r.onShutdown = func() { s.remove(id, r) }
	s.m[id] = r
	return r, nil
}

func (s *sharedReceivers) remove(id component.ID, r *otapReceiver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[id] == r {
		delete(s.m, id)
	}
}
