package main

/*
#include <stdint.h>
*/
import "C"

// The live-control exports of docs/ABI.md ("Live control"). Arguments are JSON text the
// caller owns; Go copies it (GoString) before the call returns.

func goBytes(p *C.char) []byte {
	if p == nil {
		return []byte("null")
	}
	return []byte(C.GoString(p))
}

//export gvproxy_expose
func gvproxy_expose(id C.int64_t, forwardJSON *C.char) *C.char {
	return C.CString(guarded("gvproxy_expose", func() (any, error) { return exposeForward(int64(id), goBytes(forwardJSON)) }))
}

//export gvproxy_unexpose
func gvproxy_unexpose(id C.int64_t, selectorJSON *C.char) *C.char {
	return C.CString(guarded("gvproxy_unexpose", func() (any, error) { return unexposeForward(int64(id), goBytes(selectorJSON)) }))
}

//export gvproxy_forwards
func gvproxy_forwards(id C.int64_t) *C.char {
	return C.CString(guarded("gvproxy_forwards", func() (any, error) { return listForwards(int64(id)) }))
}

//export gvproxy_add_host_socket
func gvproxy_add_host_socket(id C.int64_t, socketJSON *C.char) *C.char {
	return C.CString(guarded("gvproxy_add_host_socket", func() (any, error) { return addHostSocket(int64(id), goBytes(socketJSON)) }))
}

//export gvproxy_remove_host_socket
func gvproxy_remove_host_socket(id C.int64_t, port C.int64_t) *C.char {
	return C.CString(guarded("gvproxy_remove_host_socket", func() (any, error) { return removeHostSocket(int64(id), int64(port)) }))
}

//export gvproxy_set_allow_net
func gvproxy_set_allow_net(id C.int64_t, allowNetJSON *C.char) *C.char {
	return C.CString(guarded("gvproxy_set_allow_net", func() (any, error) { return setAllowNet(int64(id), goBytes(allowNetJSON)) }))
}

//export gvproxy_set_dns_zones
func gvproxy_set_dns_zones(id C.int64_t, zonesJSON *C.char) *C.char {
	return C.CString(guarded("gvproxy_set_dns_zones", func() (any, error) { return setDNSZones(int64(id), goBytes(zonesJSON)) }))
}

//export gvproxy_guest
func gvproxy_guest(id C.int64_t) *C.char {
	return C.CString(guarded("gvproxy_guest", func() (any, error) { return guestInfo(int64(id)) }))
}

//export gvproxy_subscribe
func gvproxy_subscribe(id C.int64_t, mask C.int64_t) *C.char {
	return C.CString(guarded("gvproxy_subscribe", func() (any, error) { return subscribeEvents(int64(id), int64(mask)) }))
}

//export gvproxy_drain_events
func gvproxy_drain_events(id C.int64_t, maxEvents C.int64_t) *C.char {
	return C.CString(guardedRaw("gvproxy_drain_events", func() string { return drainEventsEnvelope(int64(id), int64(maxEvents)) }))
}
