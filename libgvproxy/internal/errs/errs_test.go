package errs

import (
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestAsFindsTheCodeThroughWrapping(t *testing.T) {
	inner := Field(AddressInUse, "portMappings[0].hostPort", "busy")
	err := fmt.Errorf("context: %w", inner)
	got := As(err)
	if got.Code != AddressInUse || got.Field != "portMappings[0].hostPort" || got.Error() != "portMappings[0].hostPort: busy" {
		t.Fatalf("As = %+v", got)
	}
	if As(nil) != nil {
		t.Fatal("As(nil) != nil")
	}
	if plain := As(io.EOF); plain.Code != Internal || !errors.Is(plain, io.EOF) {
		t.Fatalf("uncoded error became %+v", plain)
	}
}

func TestOrWrapKeepsTheMostSpecificCode(t *testing.T) {
	coded := New(PermissionDenied, "no")
	if got := As(OrWrap(Internal, fmt.Errorf("x: %w", coded), "outer")); got.Code != PermissionDenied {
		t.Fatalf("code %s, want PERMISSION_DENIED", got.Code)
	}
	wrapped := As(OrWrap(Internal, io.ErrUnexpectedEOF, "reading %s", "config"))
	if wrapped.Code != Internal || wrapped.Error() != "reading config: unexpected EOF" {
		t.Fatalf("wrapped %q (%s)", wrapped.Error(), wrapped.Code)
	}
	if f := New(InvalidConfig, "m").WithField("mtu"); f.Field != "mtu" {
		t.Fatal("WithField")
	}
}
