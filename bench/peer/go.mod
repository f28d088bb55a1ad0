module bun-gvproxy/bench/peer

go 1.25.0
