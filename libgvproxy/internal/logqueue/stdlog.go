package logqueue

import (
	"strings"
	"time"
)

// stdlogWriter receives the standard log package's output: one Write per log call. The
// log package has already formatted the line; the record keeps it without the newline.
type stdlogWriter struct{}

func (stdlogWriter) Write(p []byte) (int, error) {
	if Enabled(Info) {
		// string(p) copies: the log package reuses p after Write returns.
		emit(Info, SourceStdlog, 0, time.Now(), strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}
