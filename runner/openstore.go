package runner

import (
	"context"
	"errors"

	"github.com/wskx/wskx/policies"
)

// OpenStore opens a policy's checkpoint storage.
func OpenStore(ctx context.Context, st policies.Storage) (Store, error) {
	return nil, errors.New("open store: checkpoint storage is not available in this build")
}
