package main

import "bun-gvproxy/libgvproxy/internal/logqueue"

// instanceLogger tags a network's log lines with its handle (record field "instance
// id") and the libgvproxy source.
type instanceLogger struct{ id uint32 }

func (l instanceLogger) Tracef(f string, a ...any) { logqueue.Logf(logqueue.Trace, l.id, f, a...) }
func (l instanceLogger) Debugf(f string, a ...any) { logqueue.Logf(logqueue.Debug, l.id, f, a...) }
func (l instanceLogger) Infof(f string, a ...any)  { logqueue.Logf(logqueue.Info, l.id, f, a...) }
func (l instanceLogger) Warnf(f string, a ...any)  { logqueue.Logf(logqueue.Warn, l.id, f, a...) }
func (l instanceLogger) Errorf(f string, a ...any) { logqueue.Logf(logqueue.Error, l.id, f, a...) }
