package commands

import (
	"errors"
	"strings"
	"testing"

	"bun-gvproxy/guest/internal/control"
)

// argsCase is one case of a command's argument check.
type argsCase[A any] struct {
	name    string
	args    A
	problem string // "" when the arguments are accepted; else a fragment of the refusal
}

// testArgsCheck runs the cases: accepted arguments pass check, refused ones fail it with
// a BAD_REQUEST naming the problem (what the driver shows the caller).
func testArgsCheck[A any, P interface {
	*A
	check() error
}](t *testing.T, cases []argsCase[A]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := P(&c.args).check()
			if c.problem == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var coded *control.CodedError
			if !errors.As(err, &coded) || coded.Code != CodeBadRequest || !strings.Contains(err.Error(), c.problem) {
				t.Fatalf("error %v, want BAD_REQUEST mentioning %q", err, c.problem)
			}
		})
	}
}
