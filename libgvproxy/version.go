package main

import (
	"runtime"
	"runtime/debug"
)

// ABIVersion is the version of the C ABI in docs/ABI.md.
const ABIVersion = 1

const (
	gvisorTapVsockModule = "github.com/containers/gvisor-tap-vsock"
	gvisorModule         = "gvisor.dev/gvisor"
)

// versionInfo is the value of gvproxy_version.
type versionInfo struct {
	GvisorTapVsock string `json:"gvisorTapVsock"`
	Gvisor         string `json:"gvisor"`
	Go             string `json:"go"`
}

// buildVersions reads the module versions compiled into the library from its build
// information, so they can never disagree with what was actually linked.
func buildVersions() versionInfo {
	v := versionInfo{GvisorTapVsock: "unknown", Gvisor: "unknown", Go: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, dep := range info.Deps {
		mod := dep
		if dep.Replace != nil {
			mod = dep.Replace
		}
		switch dep.Path {
		case gvisorTapVsockModule:
			v.GvisorTapVsock = mod.Version
		case gvisorModule:
			v.Gvisor = mod.Version
		}
	}
	return v
}
