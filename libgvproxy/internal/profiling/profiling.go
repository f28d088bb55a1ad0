// Package profiling turns on Go's profilers for the library when the host process's
// environment asks for it (GVPROXY_PPROF), so the data path can be profiled inside the
// real host process instead of a test binary. It is off unless the variable is set.
//
//	GVPROXY_PPROF=<dir>          a CPU profile of the library while networks are open,
//	                             written with a heap profile beside it to
//	                             <dir>/gvproxy-<pid>-<n>.{cpu,heap}.pprof when the last
//	                             open network is closed (the next create starts <n>+1)
//	GVPROXY_PPROF=unix:<path>    net/http/pprof served on a Unix socket at <path>
//	                             (mode 0600) while networks are open
//
// There is deliberately no TCP listener: with hostLoopback the guest reaches the host's
// 127.0.0.1 through the NAT, so a loopback port would be the guest's to read too. A Unix
// socket is reachable from the guest only through an explicit hostSockets entry.
//
// A value that cannot be used is reported through the logger of the network being
// opened and ignored: profiling never stops a network from starting.
package profiling

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	rpprof "runtime/pprof"
	"strings"
	"sync"
)

// EnvVar is the environment variable read when the first network opens.
const EnvVar = "GVPROXY_PPROF"

const unixPrefix = "unix:"

// Logger is what the profiler reports through: the logger of the network whose open or
// close started or stopped a profile.
type Logger interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
}

// Target is a parsed GVPROXY_PPROF value: exactly one of Dir and Socket is set, or
// neither (profiling off).
type Target struct {
	Dir    string
	Socket string
}

// Parse reads a GVPROXY_PPROF value. Empty means off.
func Parse(value string) (Target, error) {
	value = strings.TrimSpace(value)
	switch {
	case value == "":
		return Target{}, nil
	case strings.HasPrefix(value, unixPrefix):
		path := strings.TrimPrefix(value, unixPrefix)
		if !filepath.IsAbs(path) {
			return Target{}, fmt.Errorf("%s=%s: the socket path after unix: must be absolute", EnvVar, value)
		}
		return Target{Socket: filepath.Clean(path)}, nil
	case strings.Contains(value, ":") && !strings.ContainsRune(value, os.PathSeparator):
		return Target{}, fmt.Errorf("%s=%s: TCP listeners are not offered (the guest could reach a host loopback port through the NAT); use unix:<absolute path> or a directory", EnvVar, value)
	default:
		dir, err := filepath.Abs(value)
		if err != nil {
			return Target{}, fmt.Errorf("%s=%s: %w", EnvVar, value, err)
		}
		return Target{Dir: dir}, nil
	}
}

// Profiler starts profiling when the first network opens and stops it when the last one
// closes. The zero value is ready to use.
type Profiler struct {
	mu     sync.Mutex
	open   int
	seq    int
	active session
}

// session is what one stretch of open networks started.
type session interface {
	stop(log Logger)
}

// Opened records that a network opened; the first starts profiling if GVPROXY_PPROF asks.
func (p *Profiler) Opened(log Logger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open++
	if p.open != 1 {
		return
	}
	target, err := Parse(os.Getenv(EnvVar))
	if err != nil {
		log.Warnf("profiling off: %v", err)
		return
	}
	switch {
	case target.Dir != "":
		p.seq++
		p.active, err = startCPU(target.Dir, p.seq)
	case target.Socket != "":
		p.active, err = startHTTP(target.Socket)
	default:
		return
	}
	if err != nil {
		log.Warnf("profiling off: %v", err)
		p.active = nil
		return
	}
	log.Infof("profiling on (%s=%s)", EnvVar, os.Getenv(EnvVar))
}

// Closed records that a network closed; the last stops profiling and writes what it made.
func (p *Profiler) Closed(log Logger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == 0 {
		return
	}
	p.open--
	if p.open == 0 && p.active != nil {
		p.active.stop(log)
		p.active = nil
	}
}

// cpuSession is a running CPU profile and the files it writes.
type cpuSession struct {
	cpu      *os.File
	heapPath string
}

func startCPU(dir string, seq int) (*cpuSession, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create profile directory %s: %w", dir, err)
	}
	base := filepath.Join(dir, fmt.Sprintf("gvproxy-%d-%d", os.Getpid(), seq))
	// O_EXCL: a profile already there (another process, an earlier run) is never replaced.
	f, err := os.OpenFile(base+".cpu.pprof", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create CPU profile: %w", err)
	}
	if err := rpprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("start CPU profile %s: %w", f.Name(), err)
	}
	return &cpuSession{cpu: f, heapPath: base + ".heap.pprof"}, nil
}

func (s *cpuSession) stop(log Logger) {
	rpprof.StopCPUProfile()
	if err := s.cpu.Close(); err != nil {
		log.Warnf("write CPU profile %s: %v", s.cpu.Name(), err)
		return
	}
	if err := writeHeap(s.heapPath); err != nil {
		log.Warnf("write heap profile: %v", err)
	}
	log.Infof("profiles written: %s, %s", s.cpu.Name(), s.heapPath)
}

func writeHeap(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	runtime.GC() // the heap profile shows what was live at the last GC
	if err := rpprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

// httpSession is net/http/pprof on a Unix socket.
type httpSession struct {
	server *http.Server
	path   string
	done   chan struct{}
}

func startHTTP(path string) (*httpSession, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%s exists already (it is never replaced): remove it or choose another path", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("check %s: %w", path, err)
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("restrict %s to its owner: %w", path, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s := &httpSession{server: &http.Server{Handler: mux}, path: path, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.server.Serve(l)
	}()
	return s, nil
}

func (s *httpSession) stop(log Logger) {
	if err := s.server.Close(); err != nil {
		log.Warnf("close the pprof listener %s: %v", s.path, err)
	}
	<-s.done
	// Serve's listener removes its socket file on close; make sure of it.
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warnf("remove %s: %v", s.path, err)
	}
}
