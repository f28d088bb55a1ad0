package network

import "github.com/sirupsen/logrus"

// Logger receives a network's log lines. The exports give each network one that tags
// lines with the instance id; tests may use logrus.
type Logger interface {
	Tracef(format string, args ...any)
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

var _ Logger = logrus.StandardLogger()
