package logqueue

import (
	"slices"
	"strings"

	"github.com/sirupsen/logrus"
)

// logrusFormatter turns logrus entries (gvisor-tap-vsock logs through logrus' standard
// logger) into queued records. It is a Formatter rather than a Hook because logrus always
// formats: taking the formatter's place means each entry is rendered once, by us, and
// logrus writes the empty result to io.Discard.
type logrusFormatter struct{}

func (logrusFormatter) Format(e *logrus.Entry) ([]byte, error) {
	level := fromLogrusLevel(e.Level)
	if Enabled(level) {
		emit(level, SourceLogrus, 0, e.Time, logrusMessage(e))
	}
	return nil, nil
}

// logrusMessage is the entry's message followed by its fields, sorted by key so that the
// same call always renders the same text.
func logrusMessage(e *logrus.Entry) string {
	msg := strings.TrimSuffix(e.Message, "\n")
	if len(e.Data) == 0 {
		return msg
	}
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	kv := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		kv = append(kv, k, e.Data[k])
	}
	return appendFields(msg, kv)
}

// fromLogrusLevel maps logrus' seven levels onto ours; fatal and panic are errors.
func fromLogrusLevel(l logrus.Level) Level {
	switch l {
	case logrus.TraceLevel:
		return Trace
	case logrus.DebugLevel:
		return Debug
	case logrus.InfoLevel:
		return Info
	case logrus.WarnLevel:
		return Warn
	default:
		return Error
	}
}

// toLogrusLevel is the logrus threshold that lets through exactly the levels we keep.
// Logrus cannot be silenced entirely, so Silent becomes PanicLevel and the formatter's
// own check discards the rest.
func toLogrusLevel(l Level) logrus.Level {
	switch l {
	case Trace:
		return logrus.TraceLevel
	case Debug:
		return logrus.DebugLevel
	case Info:
		return logrus.InfoLevel
	case Warn:
		return logrus.WarnLevel
	case Error:
		return logrus.ErrorLevel
	default:
		return logrus.PanicLevel
	}
}
