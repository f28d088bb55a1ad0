module bun-gvproxy/bench/peer

go 1.25.0

require bun-gvproxy/framing v0.0.0

replace bun-gvproxy/framing => ../../framing
