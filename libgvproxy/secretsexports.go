package main

/*
#include <stdint.h>
*/
import "C"

// The secrets exports of docs/ABI.md ("Secrets").

//export gvproxy_set_secrets
func gvproxy_set_secrets(id C.int64_t, secretsJSON *C.char) *C.char {
	return C.CString(guarded("gvproxy_set_secrets", func() (any, error) { return setSecrets(int64(id), goBytes(secretsJSON)) }))
}

//export gvproxy_ca_certificate
func gvproxy_ca_certificate(id C.int64_t) *C.char {
	return C.CString(guarded("gvproxy_ca_certificate", func() (any, error) { return caCertificate(int64(id)) }))
}
