module bun-gvproxy/libgvproxy

go 1.25.0

require (
	github.com/andybalholm/brotli v1.3.0
	github.com/containers/gvisor-tap-vsock v0.8.9
	github.com/insomniacslk/dhcp v0.0.0-20240710054256-ddd8a41251c9
	github.com/klauspost/compress v1.18.0
	github.com/miekg/dns v1.1.72
	github.com/sirupsen/logrus v1.9.4
	golang.org/x/net v0.53.0
	gvisor.dev/gvisor v0.0.0-20240916094835-a174eb65023f
)

require (
	bun-gvproxy/framing v0.0.0
	github.com/apparentlymart/go-cidr v1.1.1 // indirect
	github.com/google/btree v1.1.2 // indirect
	github.com/google/gopacket v1.1.19 // indirect
	github.com/pierrec/lz4/v4 v4.1.14 // indirect
	github.com/u-root/uio v0.0.0-20240224005618-d2acac8f3701 // indirect
	golang.org/x/mod v0.35.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
	golang.org/x/sys v0.43.0 // indirect
	golang.org/x/time v0.5.0 // indirect
	golang.org/x/tools v0.43.0 // indirect
)

replace bun-gvproxy/framing => ../framing
