module bun-gvproxy/guest

go 1.25.0

require (
	github.com/miekg/dns v1.1.72
	golang.org/x/sys v0.39.0
	gvisor.dev/gvisor v0.0.0-20240916094835-a174eb65023f
)

require (
	bun-gvproxy/framing v0.0.0
	github.com/google/btree v1.1.2 // indirect
	golang.org/x/mod v0.31.0 // indirect
	golang.org/x/net v0.48.0 // indirect
	golang.org/x/sync v0.19.0 // indirect
	golang.org/x/time v0.5.0 // indirect
	golang.org/x/tools v0.40.0 // indirect
)

replace bun-gvproxy/framing => ../framing
