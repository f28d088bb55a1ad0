package commands

import (
	"context"
	"errors"

	"bun-gvproxy/guest/internal/control"
)

// probeEnding is how an egress-policy probe ended once its TCP connect had succeeded.
// Such probes report what happened instead of failing, so a test can tell a
// connection the network reset after reading its first bytes from one a server answered.
type probeEnding struct {
	// Error is what ended the exchange early, if anything.
	Error string `json:"error,omitempty"`
	// Reset: the connection was reset (or aborted) rather than answered or closed.
	Reset bool `json:"reset"`
}

// endProbe turns the error that ended a connected probe into its ending; a timeout is
// still the command's failure, returned as the error.
func (g *Guest) endProbe(ctx context.Context, err error) (probeEnding, error) {
	if err == nil {
		return probeEnding{}, nil
	}
	if coded := g.classify(ctx, err); isTimeoutCode(coded) {
		return probeEnding{}, coded
	}
	return probeEnding{Error: err.Error(), Reset: isReset(err)}, nil
}

func isTimeoutCode(err error) bool {
	var coded *control.CodedError
	return errors.As(err, &coded) && coded.Code == CodeTimeout
}
